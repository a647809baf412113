# Sends ARP requests for 10.99.0.0 + (i mod COUNT) at a fixed rate from a packet socket.
# Usage: arp_flood.py RATE SECONDS CLIENT_MAC [COUNT (default 1000)]; prints how many it sent.
import socket, struct, sys, time
rate, secs, mac = int(sys.argv[1]), float(sys.argv[2]), bytes.fromhex(sys.argv[3].replace(":", ""))
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
base = struct.unpack("!I", socket.inet_aton("10.99.0.0"))[0]
sender_ip = socket.inet_aton("192.168.78.2")
frames = [b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
          + mac + sender_ip + b"\x00" * 6 + struct.pack("!I", base + i) for i in range(count)]
start = time.monotonic()
n = 0
while True:
    due = start + n / rate
    now = time.monotonic()
    if now - start >= secs:
        break
    if due > now:
        time.sleep(due - now)
    s.send(frames[n % count])
    n += 1
print(n)
