/* gx_export_fuzz.c - libFuzzer target for the export's untrusted inputs
 * (src/gateway/export): the event JSON a supervisor pushes (gx_json_meta,
 * then the syslog frame and the HEC body built from it) and the export
 * section of the gateway YAML (gx_config_load_text).
 *
 * DESIGN: the input goes over WITHOUT a terminating NUL (a heap copy of
 * exactly `size` bytes), so ASan sees any read past the given length. The
 * first byte chooses the parser. Invariants (abort = finding):
 *   - gx_json_meta returns 0, OSH_EPARSE or OSH_EDEPTH; on 0 every span
 *     lies inside the input;
 *   - a frame is built for every accepted event; its octet count equals the
 *     frame's length after the prefix, and the structured data holds no
 *     '"' , '\\' or ']' besides its own delimiters;
 *   - the config parser returns 0 or an error whose text starts with
 *     "fuzz.yaml:", and a refused load keeps nothing (n == 0).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx_config.h"
#include "gx_json.h"
#include "gx_send.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in_range(struct gx_span s, const char *b, size_t n)
{
	if (s.p && (s.p < b || s.p + s.n > b + n))
		abort();
}

static void check_frame(const char *f, size_t n)
{
	const char *sp = memchr(f, ' ', n);
	const char *sd, *end;
	unsigned long len;

	if (!sp)
		abort();
	len = strtoul(f, NULL, 10);
	if (len != n - (size_t)(sp + 1 - f))
		abort();
	sd = memmem(f, n, "[ocsf@32473 ", 12);
	if (!sd)
		abort();
	end = memmem(sd, n - (size_t)(sd - f), "\"] ", 3);
	if (!end)
		abort();
	/* inside the SD element only the three param values' quotes */
	for (const char *p = sd + 1; p < end; p++)
		if (*p == '\\' || *p == ']')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, n);
	if (data[0] & 1) {
		struct gx_meta m;
		int rc = gx_json_meta(buf, n, &m);

		if (rc != 0 && rc != OSH_EPARSE && rc != OSH_EDEPTH)
			abort();
		if (rc == 0) {
			struct gx_dest d;
			char *f = NULL, *body = NULL, why[128];
			size_t fl = 0, bl = 0;

			in_range(m.uid, buf, n);
			in_range(m.sb_name, buf, n);
			in_range(m.sb_id, buf, n);
			memset(&d, 0, sizeof(d));
			d.kind = GX_KIND_SYSLOG;
			d.facility = 13;
			snprintf(d.app_name, sizeof(d.app_name), "openshell");
			if (gx_syslog_frame(&d, "host", 1, buf, n, &f, &fl, why, sizeof(why)) != 0)
				abort();
			check_frame(f, fl);
			free(f);
			if (!memchr(buf, '\n', n)) {
				d.format = GX_FORMAT_SPLUNK_HEC;
				if (gx_http_body(&d, "host", buf, n, &body, &bl) != 0)
					abort();
				free(body);
			}
		}
	} else {
		struct gx_config *c = calloc(1, sizeof(*c));
		char err[512];

		if (c && gx_config_load_text("fuzz.yaml", buf, n, c, err, sizeof(err)) != 0) {
			if (strncmp(err, "fuzz.yaml:", 10) != 0 || c->n != 0)
				abort();
		}
		free(c);
	}
	free(buf);
	return 0;
}
