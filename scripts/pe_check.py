#!/usr/bin/env python3
"""Checks a Windows executable is what we ship: PE32+ for x86-64, the GUI subsystem (no console
window behind the app), and resources holding the app's icon and a version block that names
the product and its version.

    pe_check.py FILE.exe PRODUCT VERSION     the app: GUI, icon, version
    pe_check.py FILE.exe --console           a command-line tool: console, no resources asked

Reads the PE headers and the resource directory itself (no third-party module), prints what
it found, and exits 1 with the reason when something is missing.
"""

import struct
import sys

RT_ICON, RT_GROUP_ICON, RT_VERSION, RT_MANIFEST = 3, 14, 16, 24
SUBSYSTEMS = {2: "GUI", 3: "console"}


def fail(why):
    print(f"pe_check: {sys.argv[1]}: {why}", file=sys.stderr)
    sys.exit(1)


def section_offset(data, table, sections, rva):
    for i in range(sections):
        s = table + 40 * i
        vsize, vaddr, raw_size, raw_ptr = struct.unpack_from("<IIII", data, s + 8)
        if vaddr <= rva < vaddr + max(vsize, raw_size):
            return raw_ptr + rva - vaddr
    fail(f"RVA {rva:#x} in no section")


def imported_dlls(data, opt, opt_size, sections):
    """The names of the DLLs the import table (data directory 1) asks for."""
    table = opt + opt_size
    rva, _ = struct.unpack_from("<II", data, opt + 112 + 1 * 8)
    names = []
    if not rva:
        return names
    at = section_offset(data, table, sections, rva)
    while True:
        name_rva = struct.unpack_from("<I", data, at + 12)[0]
        if name_rva == 0:
            return sorted(set(names))
        start = section_offset(data, table, sections, name_rva)
        names.append(data[start:data.index(b"\0", start)].decode("ascii", "replace"))
        at += 20


def main():
    path = sys.argv[1]
    want = "console" if sys.argv[2:] == ["--console"] else "GUI"
    product, version = (None, None) if want == "console" else sys.argv[2:4]
    data = open(path, "rb").read()
    if data[:2] != b"MZ":
        fail("not an MZ/PE file")
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        fail("no PE signature")
    machine, sections, _, _, _, opt_size, _ = struct.unpack_from("<HHIIIHH", data, pe + 4)
    if machine != 0x8664:
        fail(f"machine {machine:#x}, not x86-64")
    opt = pe + 24
    if struct.unpack_from("<H", data, opt)[0] != 0x20B:
        fail("not PE32+")
    subsystem = struct.unpack_from("<H", data, opt + 68)[0]
    kind = SUBSYSTEMS.get(subsystem, str(subsystem))
    if kind != want:
        fail(f"subsystem {kind}, wanted {want}")
    imports = imported_dlls(data, opt, opt_size, sections)
    # The MinGW runtime must be linked in: a person's Windows does not have these DLLs.
    runtime = [d for d in imports if d.lower().startswith(("libgcc", "libstdc++", "libwinpthread"))]
    if runtime:
        fail("needs MinGW runtime DLLs no Windows has: " + ", ".join(runtime))
    if product is None:
        print(f"{path}: PE32+ x86-64, {kind} subsystem, imports {len(imports)} system DLLs")
        return
    # Data directory 2 is the resource table.
    rsrc_rva, rsrc_size = struct.unpack_from("<II", data, opt + 112 + 2 * 8)
    if not rsrc_rva:
        fail("no resources (icon, version)")
    base = section_offset(data, opt + opt_size, sections, rsrc_rva)
    named, ids = struct.unpack_from("<HH", data, base + 12)
    types = set()
    for i in range(named + ids):
        name, _ = struct.unpack_from("<II", data, base + 16 + 8 * i)
        if not name & 0x80000000:
            types.add(name)
    missing = [n for t, n in ((RT_ICON, "icon"), (RT_GROUP_ICON, "icon group"),
                              (RT_VERSION, "version")) if t not in types]
    if missing:
        fail("resources lack: " + ", ".join(missing))
    rsrc = data[base:base + rsrc_size]

    def utf16(s):
        return s.encode("utf-16-le")

    for key, value in (("ProductName", product), ("ProductVersion", version),
                       ("FileVersion", version)):
        if utf16(key) not in rsrc:
            fail(f"version block has no {key}")
        at = rsrc.index(utf16(key)) + len(utf16(key))
        # The value follows the key's terminating NUL and padding to a 4-byte boundary.
        while rsrc[at:at + 2] == b"\0\0":
            at += 2
        text = rsrc[at:at + 2 * 64].decode("utf-16-le", "replace").split("\0")[0]
        if not text.startswith(value):
            fail(f"{key} is {text!r}, wanted {value!r}")
    if RT_MANIFEST not in types:
        fail("no application manifest (common controls, DPI awareness)")
    extra = [d for d in imports if d.lower() == "webview2loader.dll"]
    print(f"{path}: PE32+ x86-64, {kind} subsystem, icon, version ({product} {version}) and "
          f"manifest resources, imports {len(imports)} DLLs ({', '.join(extra) or 'system only'}"
          f"{' beside it, the rest system' if extra else ''})")


if __name__ == "__main__":
    main()
