/* labels_fuzz.c - libFuzzer target for the label rules (src/common/osh_labels.c):
 * a selector from `sandbox list --selector` / ListSandboxesRequest.label_selector,
 * label text read back from the store, a `--label KEY=VALUE` argument.
 *
 * DESIGN: every one of these reaches the gateway from a client, so any bytes
 * must give a result or a documented error, never a crash or an error that
 * spans lines. The input is a private NUL-terminated heap copy (ASan catches
 * reads past it). Invariants (abort = finding):
 *   - selector_parse returns 0, OSH_EINVAL, OSH_ETOOBIG or OSH_EEXIST; on
 *     success its output is canonical (validate = 0) and matches itself and
 *     every superset made by encoding it again; on error *out is NULL;
 *   - validate returns 0 or OSH_EPARSE; match never crashes on any text, and
 *     a text that does not validate matches no non-empty selector;
 *   - every error is one NUL-terminated line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osh_labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *err, size_t cap)
{
	if (memchr(err, '\0', cap) == NULL || strchr(err, '\n') != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	char *sel = NULL;
	char err[256] = "", k[OSH_LABEL_KEY_MAX + 1], v[OSH_LABEL_VALUE_MAX + 1];
	int rc;

	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	rc = osh_labels_selector_parse(in, &sel, err, sizeof(err));
	if (rc != 0 && rc != OSH_EINVAL && rc != OSH_ETOOBIG && rc != OSH_EEXIST)
		abort();
	one_line(err, sizeof(err));
	if (rc != 0 && sel)
		abort();
	if (rc == 0) {
		if (!sel || osh_labels_validate(sel, err, sizeof(err)) != 0 ||
		    !osh_labels_match(sel, sel))
			abort();
	}
	rc = osh_labels_validate(in, err, sizeof(err));
	if (rc != 0 && rc != OSH_EPARSE)
		abort();
	one_line(err, sizeof(err));
	if (rc != 0 && sel && sel[0] && osh_labels_match(in, sel))
		abort();
	(void)osh_labels_match(in, in);
	rc = osh_labels_split(in, k, v, err, sizeof(err));
	if (rc != 0 && rc != OSH_EINVAL && rc != OSH_ETOOBIG)
		abort();
	one_line(err, sizeof(err));
	if (rc == 0 && osh_labels_check(k, v, err, sizeof(err)) != 0)
		abort();
	free(sel);
	free(in);
	return 0;
}
