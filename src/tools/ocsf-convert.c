/* ocsf-convert - convert OCSF 1.7.0 JSONL to an older OCSF release.
 *
 * DESIGN: a thin main over ocsf_convert_json() (src/ocsf/ocsf_convert.h), so
 * tests, benchmarks and operators run exactly the converter the supervisor
 * and the gateway use. Converted lines go to stdout in input order; each
 * refusal is reported on stderr as `FILE:LINE: refused: REASON` and each
 * malformed line as `FILE:LINE: malformed: REASON`; the last stderr line is
 * `N events, N converted, N refused, N malformed`.
 *
 * Usage: ocsf-convert --to VERSION [--strict] [FILE...]   ('-' or none: stdin)
 * Exit status: 0; 1 on a malformed line (or, with --strict, a refusal);
 * 2 on usage or I/O errors.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf_convert.h"

struct counts {
	unsigned long events, converted, refused, malformed;
};

static int convert_file(FILE *f, const char *label, enum ocsf_version to, struct counts *n)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;

	while ((len = getline(&line, &cap, f)) >= 0) {
		char *out = NULL;
		size_t out_len = 0;
		char reason[512];
		int rc;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		n->events++;
		rc = ocsf_convert_json(line, (size_t)len, to, &out, &out_len, reason,
				       sizeof(reason));
		if (rc == 0) {
			fwrite(out, 1, out_len, stdout);
			fputc('\n', stdout);
			n->converted++;
		} else if (rc == OSH_EINVAL) {
			fprintf(stderr, "%s:%lu: refused: %s\n", label, lineno, reason);
			n->refused++;
		} else {
			fprintf(stderr, "%s:%lu: malformed: %s (%s)\n", label, lineno, reason,
				osh_strerror(rc));
			n->malformed++;
		}
		free(out);
	}
	free(line);
	return ferror(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
	enum ocsf_version to = OCSF_VERSION_1_7_0;
	bool have_to = false, strict = false, any_file = false;
	struct counts n = {0};
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
			if (ocsf_version_parse(argv[++i], &to) != 0) {
				fprintf(stderr,
					"ocsf-convert: --to %s: not a version (accepted: %s)\n",
					argv[i], OCSF_VERSION_ACCEPTED);
				return 2;
			}
			have_to = true;
		} else if (strcmp(argv[i], "--strict") == 0) {
			strict = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: ocsf-convert --to VERSION [--strict] [FILE...]\n");
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != 0) {
			fprintf(stderr, "ocsf-convert: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!have_to) {
		fprintf(stderr, "usage: ocsf-convert --to VERSION [--strict] [FILE...] "
				"(VERSION: " OCSF_VERSION_ACCEPTED ")\n");
		return 2;
	}
	for (int i = 1; i < argc && rc == 0; i++) {
		FILE *f;

		if (strcmp(argv[i], "--to") == 0) {
			i++;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != 0)
			continue;
		any_file = true;
		f = strcmp(argv[i], "-") == 0 ? stdin : fopen(argv[i], "r");
		if (f == NULL) {
			perror(argv[i]);
			rc = 2;
			break;
		}
		if (convert_file(f, argv[i], to, &n) != 0)
			rc = 2;
		if (f != stdin)
			fclose(f);
	}
	if (!any_file && rc == 0 && convert_file(stdin, "<stdin>", to, &n) != 0)
		rc = 2;
	fprintf(stderr, "%lu events, %lu converted, %lu refused, %lu malformed\n", n.events,
		n.converted, n.refused, n.malformed);
	if (rc == 0 && (n.malformed > 0 || (strict && n.refused > 0)))
		rc = 1;
	return rc;
}
