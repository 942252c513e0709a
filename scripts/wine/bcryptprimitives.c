/* ProcessPrng for wine 8 (Debian 12's), which lacks bcryptprimitives.dll: Rust's standard
 * library has asked Windows for random bytes through it since Rust 1.78, so without it no
 * Rust program starts under that wine. Windows 10 and later have the real one; this stand-in
 * is only copied into the test run's wine prefix (scripts/cross.sh). The bytes come from
 * RtlGenRandom (advapi32's SystemFunction036), the generator Rust used before. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
