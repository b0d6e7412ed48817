/* yaml_config_fuzz.c - libFuzzer target for the gateway's YAML config parser
 * (osh_gw_layer_from_yaml_text, src/gateway/config.c).
 *
 * DESIGN: the config file is re-read on every reload and rewritten by
 * SetConfig, so whatever bytes it holds (a half-written editor save, a
 * hostile edit, binary junk) must yield either a layer or an error that
 * names the place. The input is handed over WITHOUT a terminating NUL (a
 * private heap copy of exactly `size` bytes), so ASan sees any read past the
 * length the parser was given. Invariants asserted (abort = finding):
 *   - the result is 0, OSH_EPARSE, or OSH_ETOOBIG for text over the size
 *     limit; never anything else, never a crash, never a leak;
 *   - on error the layer is untouched (still the sentinel we filled in) and
 *     err is NUL-terminated and reads "fuzz.yaml:<line>:..." with
 *     1 <= line <= line breaks in the input + 2 (OSH_ETOOBIG: "fuzz.yaml: ...");
 *   - a tiny err buffer (8 bytes) gives the same result and stays
 *     NUL-terminated inside its 8 bytes (snprintf-style truncation);
 *   - on success every set key has a 1-based line within the input, and
 *     resolving + snapshotting the layer works and names the value;
 *   - parsing is deterministic (a second parse gives the same layer).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "osh_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool starts_with_place(const char *err, unsigned max_line)
{
	const char *p = "fuzz.yaml:";
	unsigned long line = 0;
	char *end = NULL;

	if (strncmp(err, p, strlen(p)) != 0)
		return false;
	err += strlen(p);
	if (*err < '0' || *err > '9')
		return false;
	line = strtoul(err, &end, 10);
	return line >= 1 && line <= max_line && *end == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct osh_gw_layer l, l2;
	char err[512], tiny[8 + 8];
	char *text = malloc(size ? size : 1);
	unsigned lines = 1;
	int rc, rc2;

	if (!text)
		abort();
	memcpy(text, data, size);
	/* Upper bound of the lines libyaml can count: CR, LF, and the YAML 1.1
	 * breaks NEL (C2 85), LS (E2 80 A8), PS (E2 80 A9); plus one because a
	 * problem at end of input is reported on the line after the last. */
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r' ||
			 (data[i] == 0xc2 && i + 1 < size && data[i + 1] == 0x85) ||
			 (data[i] == 0xe2 && i + 2 < size && data[i + 1] == 0x80 &&
			  (data[i + 2] == 0xa8 || data[i + 2] == 0xa9));
	lines++;

	memset(&l, 0xa5, sizeof(l));
	memset(err, 'X', sizeof(err));
	rc = osh_gw_layer_from_yaml_text(&l, "fuzz.yaml", text, size, err, sizeof(err));
	if (rc != 0 && rc != OSH_EPARSE && rc != OSH_ETOOBIG)
		abort();
	if (rc != 0) {
		const unsigned char *b = (const unsigned char *)&l;

		for (size_t i = 0; i < sizeof(l); i++)
			if (b[i] != 0xa5)
				abort(); /* a failed parse changed the caller's layer */
		if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		if (rc == OSH_EPARSE && !starts_with_place(err, lines))
			abort(); /* error without file:line */
		if (rc == OSH_ETOOBIG && strncmp(err, "fuzz.yaml: ", 11) != 0)
			abort();
	} else {
		struct osh_gw_config cfg;
		char snap[256];

		for (int k = 0; k < OSH_GW_KEY_COUNT; k++)
			if (l.set[k] && (l.line[k] < 1 || l.line[k] > lines))
				abort();
		osh_gw_config_resolve(&cfg, &l, NULL, NULL);
		if (osh_gw_config_snapshot(&cfg, snap, sizeof(snap)) != 0)
			abort();
		if (l.set[OSH_GW_KEY_OCSF_LOGGING_ENABLED] &&
		    (cfg.src[OSH_GW_KEY_OCSF_LOGGING_ENABLED] != OSH_GW_SRC_YAML ||
		     cfg.v.ocsf_logging_enabled != l.v.ocsf_logging_enabled))
			abort();
		if (strstr(snap, cfg.v.ocsf_logging_enabled
				     ? "ocsf_logging_enabled=true\n"
				     : "ocsf_logging_enabled=false\n") == NULL)
			abort();
	}

	/* Same text, 8-byte error buffer (guard bytes after it must survive). */
	memset(tiny, 'G', sizeof(tiny));
	memset(&l2, 0, sizeof(l2));
	rc2 = osh_gw_layer_from_yaml_text(&l2, "fuzz.yaml", text, size, tiny, 8);
	if (rc2 != rc)
		abort(); /* non-deterministic, or err size changes the verdict */
	if (rc2 != 0 && memchr(tiny, '\0', 8) == NULL)
		abort();
	for (size_t i = 8; i < sizeof(tiny); i++)
		if (tiny[i] != 'G')
			abort(); /* wrote past errlen */
	for (int k = 0; rc == 0 && k < OSH_GW_KEY_COUNT; k++)
		if (l.set[k] != l2.set[k] || (l.set[k] && l.line[k] != l2.line[k]))
			abort();
	if (rc == 0 && l.v.ocsf_logging_enabled != l2.v.ocsf_logging_enabled)
		abort();
	free(text);
	return 0;
}
