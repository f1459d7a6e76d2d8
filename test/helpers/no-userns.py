# Runs argv[2:] as uid argv[1] inside a user namespace whose
# user.max_user_namespaces is 0: a host that forbids it more user namespaces.
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
uid = int(sys.argv[1])
r, w = os.pipe()
r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(0x10000000) != 0:
        sys.exit('unshare: errno %d' % ctypes.get_errno())
    os.write(w, b'x'); os.read(r2, 1)
    os.setresgid(0, 0, 0); os.setresuid(0, 0, 0)
    open('/proc/sys/user/max_user_namespaces', 'w').write('0')
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
    os.execvp(sys.argv[2], sys.argv[2:])
os.read(r, 1)
for f in ('uid_map', 'gid_map'):
    open('/proc/%d/%s' % (pid, f), 'w').write('0 0 1\n%d %d 1\n' % (uid, uid))
os.write(w2, b'x')
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
