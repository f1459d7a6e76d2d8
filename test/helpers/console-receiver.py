"""A console socket server for tests: receives the pty master (SCM_RIGHTS) the
way containerd and podman do, writes the name sent with it, then everything
the container prints, to OUT. Usage: console-receiver.py SOCKET OUT"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
server.settimeout(30)
conn, _ = server.accept()
msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
with open(out, "wb") as f:
    f.write(b"name=" + msg.rstrip(b"\0") + b"\n")
    f.flush()
    while True:
        try:
            data = os.read(fds[0], 4096)
        except OSError:  # EIO: the last slave fd closed
            break
        if not data:
            break
        f.write(data)
        f.flush()
