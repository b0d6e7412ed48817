/* test_gx_config.c - the export section parser: defaults, every kind, and
 * refusals that name file:line:key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gw_test_util.h"
#include "gx_config.h"

static struct gx_config *load(const char *text, int want_rc, char *err, size_t errlen)
{
	struct gx_config *c = calloc(1, sizeof(*c));
	int rc;

	cr_assert_not_null(c);
	err[0] = '\0';
	rc = gx_config_load_text("gw.yaml", text, strlen(text), c, err, errlen);
	cr_assert_eq(rc, want_rc, "rc %d (want %d): %s", rc, want_rc, err);
	return c;
}

Test(gx_config, no_export_section_is_empty)
{
	char err[512];
	struct gx_config *c = load("ocsf_logging_enabled: true\n", 0, err, sizeof(err));

	cr_assert_eq(c->n, 0);
	free(c);
}

Test(gx_config, three_kinds_with_defaults_and_filter)
{
	char err[512];
	char *dir = gwt_tmpdir();
	char *tok = gwt_path(dir, "tok");
	char text[2048];
	struct gx_config *c;

	cr_assert_eq(gwt_write(tok, "abc\n"), 0);
	snprintf(text, sizeof(text),
		 "ocsf_logging_enabled: false\n"
		 "export:\n"
		 "  queue_dir: /var/spool/osh\n"
		 "  destinations:\n"
		 "    - name: siem\n"
		 "      type: syslog\n"
		 "      address: 127.0.0.1:6514\n"
		 "      tls: true\n"
		 "      filter:\n"
		 "        classes: [4001, 4002]\n"
		 "        min_severity: medium\n"
		 "        sandboxes: [alpha, beta]\n"
		 "        gateway_events: false\n"
		 "    - name: hec\n"
		 "      type: http\n"
		 "      url: https://splunk.example:8088/services/collector/event\n"
		 "      format: splunk_hec\n"
		 "      token_file: %s\n"
		 "      gzip: yes\n"
		 "      queue_max_bytes: 2MiB\n"
		 "    - name: local\n"
		 "      type: file\n"
		 "      path: /var/log/openshell/ocsf.jsonl\n"
		 "      schema_version: 1.1.0\n",
		 tok);
	c = load(text, 0, err, sizeof(err));
	cr_assert_eq(c->n, 3);
	cr_assert_str_eq(c->queue_dir, "/var/spool/osh");
	cr_assert_eq(c->dests[0].kind, GX_KIND_SYSLOG);
	cr_assert_str_eq(c->dests[0].host, "127.0.0.1");
	cr_assert_eq(c->dests[0].port, 6514);
	cr_assert(c->dests[0].tls && c->dests[0].tls_verify);
	cr_assert_eq(c->dests[0].facility, 13);
	cr_assert_eq(c->dests[0].filter.n_classes, 2);
	cr_assert_eq(c->dests[0].filter.classes[1], 4002);
	cr_assert_eq(c->dests[0].filter.min_severity, 3);
	cr_assert_str_eq(c->dests[0].filter.sandboxes[1], "beta");
	cr_assert_not(c->dests[0].filter.gateway_events);
	cr_assert_eq(c->dests[1].format, GX_FORMAT_SPLUNK_HEC);
	cr_assert(c->dests[1].gzip);
	cr_assert_eq(c->dests[1].queue_max_bytes, 2u << 20);
	cr_assert_eq(c->dests[2].kind, GX_KIND_FILE);
	cr_assert_eq(c->dests[2].rotate_bytes, 64u << 20);
	cr_assert_eq(c->dests[2].keep, 5);
	cr_assert_eq(c->dests[2].queue_max_bytes, GX_QUEUE_DEFAULT);
	cr_assert_str_eq(c->dests[2].schema_version, "1.1.0");
	cr_assert_eq(c->dests[2].schema, OCSF_VERSION_1_1_0);
	cr_assert_eq(c->dests[1].schema, OCSF_VERSION_1_7_0, "default");
	cr_assert(c->dests[2].filter.gateway_events);
	{
		struct gx_config *c2 = load(text, 0, err, sizeof(err));

		cr_assert(gx_config_same(c, c2), "the same text loads the same config");
		c2->dests[2].keep = 6;
		cr_assert_not(gx_config_same(c, c2));
		free(c2);
	}
	free(c);
	free(tok);
	gwt_rmdir(dir);
}

/* Each malformed section names file:line:key and what was wrong. */
Test(gx_config, refusals_name_file_line_key)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"export:\n  destinations:\n    - name: a\n      type: tcp\n",
	     "gw.yaml:4:export.destinations[0].type: unknown type 'tcp'"},
	    {"export:\n  destinations:\n    - name: a\n      type: syslog\n      address: h:0\n",
	     "gw.yaml:5:export.destinations[0].address: 'h:0' is not HOST:PORT"},
	    {"export:\n  destinations:\n    - name: a\n      type: file\n      path: rel.jsonl\n",
	     "gw.yaml:5:export.destinations[0].path: 'rel.jsonl' must be an absolute path"},
	    {"export:\n  destinations:\n    - name: a\n      type: http\n      url: ftp://x\n",
	     "gw.yaml:5:export.destinations[0].url: 'ftp://x' must start with http://"},
	    {"export:\n  destinations:\n    - name: a\n      type: file\n      path: /x\n"
	     "      queue_max_bytes: 10\n",
	     "gw.yaml:6:export.destinations[0].queue_max_bytes: must be a number from 65536"},
	    {"export:\n  destinations:\n    - name: a\n      type: file\n      path: /x\n"
	     "      filter:\n        min_severity: loud\n",
	     "gw.yaml:7:export.destinations[0].filter.min_severity: unknown severity 'loud'"},
	    {"export:\n  destinations:\n    - name: a\n      type: file\n      path: /x\n"
	     "      schema_version: 1.2.0\n",
	     "gw.yaml:6:export.destinations[0].schema_version: unknown OCSF version '1.2.0' "
	     "(expected 1.1.0, 1.3.0, 1.5.0, 1.7.0)"},
	    {"export:\n  destinations:\n    - name: a\n      type: file\n      path: /x\n"
	     "      url: http://x\n",
	     "gw.yaml:6:export.destinations[0].url: unknown key for a file destination"},
	    {"export:\n  destinations:\n    - name: a\n      type: file\n      path: /x\n"
	     "    - name: a\n      type: file\n      path: /y\n",
	     "gw.yaml:6:export.destinations: name 'a' used twice"},
	    {"export:\n  destinations:\n    - type: file\n      path: /x\n",
	     "gw.yaml:3:export.destinations[0]: name is required"},
	    {"export:\n  destinations:\n    - name: a/b\n      type: file\n      path: /x\n",
	     "gw.yaml:3:export.destinations[0].name: 'a/b' may hold only"},
	    {"export:\n  destinations:\n    - name: a\n      type: http\n      url: http://x\n"
	     "      token_file: /nonexistent/token\n",
	     "gw.yaml:6:export.destinations[0].token_file: cannot read token file"},
	    {"export:\n  sinks: []\n", "gw.yaml:2:sinks: unknown export key"},
	    {"export:\n  destinations: {a: 1}\n", "gw.yaml:2:export.destinations: must be a list"},
	    {"export: [\n", "gw.yaml:2: YAML syntax error"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512];
		struct gx_config *c = calloc(1, sizeof(*c));
		int rc = gx_config_load_text("gw.yaml", cases[i].text, strlen(cases[i].text), c,
					     err, sizeof(err));

		cr_assert_neq(rc, 0, "case %zu accepted", i);
		cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: got '%s', want '%s'", i,
			  err, cases[i].want);
		cr_assert_eq(c->n, 0, "nothing of a refused file is kept");
		free(c);
	}
}

Test(gx_config, missing_file_is_empty_config)
{
	char err[256];
	struct gx_config *c = calloc(1, sizeof(*c));

	cr_assert_eq(gx_config_load("/nonexistent/gateway.yaml", c, err, sizeof(err)), 0);
	cr_assert_eq(c->n, 0);
	free(c);
}
