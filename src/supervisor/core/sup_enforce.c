/* sup_enforce.c - the process-wide set of protections in force (see sup_enforce.h).
 *
 * DESIGN
 * One atomic bit per protection: marks come from subsystem threads, reads
 * from whichever thread emits a policy event; no lock is needed.
 */
#include "sup_enforce.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {OSH_SUP_PROTECTIONS};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static _Atomic unsigned marks;

static int index_of(const char *what)
{
	int idx = -1;

	for (size_t i = 0; what && i < N_NAMES; i++) {
		if (strcmp(names[i], what) == 0) {
			idx = (int)i;
			break;
		}
	}
	return idx;
}

void osh_sup_enforce_set(const char *what, bool on)
{
	int i = index_of(what);

	if (i < 0)
		return;
	if (on)
		atomic_fetch_or(&marks, 1u << i);
	else
		atomic_fetch_and(&marks, ~(1u << i));
}

bool osh_sup_enforce_get(const char *what)
{
	int i = index_of(what);

	return i >= 0 && (atomic_load(&marks) & (1u << i)) != 0;
}

void osh_sup_enforce_describe(char *json, size_t json_cap, char *missing, size_t missing_cap)
{
	unsigned m = atomic_load(&marks);
	size_t jl = 0, ml = 0;

	if (json_cap)
		json[0] = '\0';
	if (missing && missing_cap)
		missing[0] = '\0';
	if (json_cap > 1)
		jl = (size_t)snprintf(json, json_cap, "[");
	for (size_t i = 0; i < N_NAMES; i++) {
		if (m & (1u << i)) {
			if (jl < json_cap)
				jl += (size_t)snprintf(json + jl, json_cap - jl, "%s\"%s\"",
						       jl > 1 ? "," : "", names[i]);
		} else if (missing && ml < missing_cap) {
			ml += (size_t)snprintf(missing + ml, missing_cap - ml, "%s%s",
					       ml ? ", " : "", names[i]);
		}
	}
	if (jl < json_cap)
		snprintf(json + jl, json_cap - jl, "]");
}

void osh_sup_enforce_reset(void)
{
	atomic_store(&marks, 0u);
}
