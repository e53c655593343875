#!/usr/bin/env python3
"""Which parts of a running collector's binary are resident.

Usage (root, for /proc/PID/pagemap): bench/resident-sections.py PID

For each loaded ELF section of /proc/PID/exe, the MiB of its pages that are
present in the process (pagemap bit 63) out of its size: the file-backed part
of RSS that bench/idle-rss.sh reports, split by section (IDLE_RSS_SECTIONS=1
bench/idle-rss.sh runs this). A page shared by two sections counts for both.
"""
import re
import struct
import subprocess
import sys

pid = sys.argv[1]
exe = f"/proc/{pid}/exe"
sections = []
for line in subprocess.run(["readelf", "-S", "-W", exe], capture_output=True, text=True, check=True).stdout.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+(\.\S+)\s+(\S+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*A\S*)\s", line)
    if m and m.group(2) != "NOBITS":
        sections.append((m.group(1), int(m.group(3), 16), int(m.group(4), 16)))

binary = subprocess.run(["readlink", exe], capture_output=True, text=True, check=True).stdout.strip()
present = set()
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
    for line in maps:
        fields = line.split()
        if len(fields) < 6 or fields[5] != binary:
            continue
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        pagemap.seek(lo // 4096 * 8)
        entries = pagemap.read((hi - lo) // 4096 * 8)
        for i in range(len(entries) // 8):
            if struct.unpack_from("<Q", entries, i * 8)[0] >> 63:
                present.add(lo // 4096 + i)

print(f"resident pages of {binary}: {len(present) * 4096 / 2**20:.1f} MiB")
for name, addr, size in sections:
    pages = range(addr // 4096, (addr + size + 4095) // 4096)
    resident = sum(1 for p in pages if p in present)
    if size > 65536:
        print(f"  {name:12} {resident * 4096 / 2**20:6.1f} of {size / 2**20:6.1f} MiB")
