#!/usr/bin/env python3
# A one-shot seccomp agent for the tests: listens on a unix socket, takes one
# connection, receives the message and the fds sent with it (SCM_RIGHTS,
# which Node cannot receive), and writes what arrived as JSON:
#   {"payload": "<the message>", "fds": ["<readlink of each fd>", ...]}
# It then closes the fds; with no listener left, the kernel fails the
# notified system calls with ENOSYS.
# Usage: seccomp-listener.py SOCKET_PATH OUTPUT_JSON (creates OUTPUT_JSON.ready when listening)
import json
import os
import socket
import sys

sock_path, out_path = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sock_path)
server.listen(1)
server.settimeout(60)
open(out_path + ".ready", "w").close()
conn, _ = server.accept()
message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 4)
chunks = [message]
while True:
    more = conn.recv(1 << 20)
    if not more:
        break
    chunks.append(more)
links = [os.readlink(f"/proc/self/fd/{fd}") for fd in fds]
with open(out_path + ".tmp", "w") as out:
    json.dump({"payload": b"".join(chunks).decode(), "fds": links}, out)
os.rename(out_path + ".tmp", out_path)
for fd in fds:
    os.close(fd)
conn.close()
server.close()
