/*
 * bcryptprimitives.c — a TEST-ONLY stand-in for Windows' bcryptprimitives.dll,
 * for running Assent under Wine 8 (Debian 12). Never packaged or shipped.
 *
 * Go >= 1.22 gets its random numbers from ProcessPrng in bcryptprimitives.dll,
 * which every supported Windows (10 and later) has but Wine 8.0 lacks, so a Go
 * program dies at start-up under Wine. This DLL exports ProcessPrng and fills
 * the buffer from BCryptGenRandom with the system-preferred RNG (Wine's
 * bcrypt.dll implements it with the host's random source).
 *
 * scripts/windows/wine-prefix.sh builds it with mingw-w64 into the private
 * Wine prefix's system32; `make package-windows` never includes it.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
