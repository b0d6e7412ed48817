/* gx_config.h - the `export:` section of the gateway YAML: SIEM destinations.
 *
 * DESIGN
 * The export section is nested (a list of destinations, each a mapping with a
 * filter), unlike the gateway's flat keys (config.c), so it has its own
 * parser over libyaml's document API, whose nodes carry line marks: every
 * refusal names file:line:key (`gateway.yaml:9:export.destinations[1].port:
 * ...`). Every value is checked at load (types, ranges, names unique, the
 * token file readable, the schema version known) so a destination that loads
 * can run; a malformed section is refused whole and the caller keeps the
 * configuration it runs. Destinations are plain fixed-size data, compared
 * member by member: a reload that changed nothing restarts nothing.
 */
#ifndef OSH_GX_CONFIG_H
#define OSH_GX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocsf_convert.h"
#include "osh_err.h"

/* Bound of a bearer token file (the first line is the token). */
#define GX_TOKEN_MAX 4096

#define GX_NAME_MAX	  64
#define GX_PATH_MAX	  1024
#define GX_FILTER_MAX	  32 /* classes / sandboxes per filter */
#define GX_DEST_MAX	  16 /* destinations per gateway */
#define GX_QUEUE_MIN	  ((uint64_t)64 << 10)
#define GX_QUEUE_DEFAULT  ((uint64_t)256 << 20)
#define GX_SCHEMA_DEFAULT "1.7.0"

enum gx_kind { GX_KIND_SYSLOG = 0, GX_KIND_HTTP, GX_KIND_FILE };
enum gx_format { GX_FORMAT_NDJSON = 0, GX_FORMAT_SPLUNK_HEC };

/* Which events a destination takes (every set condition must hold). */
struct gx_filter {
	uint32_t classes[GX_FILTER_MAX]; /* class_uid; n_classes 0 = every class */
	size_t n_classes;
	int min_severity; /* severity_id >= this (0 = any); 99 Other ranks as 0 */
	char sandboxes[GX_FILTER_MAX][GX_NAME_MAX]; /* sandbox name or id; 0 = every */
	size_t n_sandboxes;
	bool gateway_events; /* the gateway's own events (no sandbox); default true */
};

/* One destination. Plain data (copy freely). */
struct gx_dest {
	char name[GX_NAME_MAX]; /* [A-Za-z0-9_-], unique: names its queue directory */
	enum gx_kind kind;
	/* syslog */
	char host[256];
	uint16_t port;
	bool tls;
	bool tls_verify;	     /* default true */
	char ca_file[GX_PATH_MAX];   /* "" = system store */
	char cert_file[GX_PATH_MAX]; /* client certificate (optional) */
	char key_file[GX_PATH_MAX];  /* its key (with cert_file) */
	char server_name[256];	     /* TLS SNI + verified name; "" = host */
	char app_name[49];	     /* RFC 5424 APP-NAME, default "openshell" */
	int facility;		     /* 0..23, default 13 (log audit) */
	/* http */
	char url[2048];
	enum gx_format format;
	char token_file[GX_PATH_MAX]; /* bearer token (first line); "" = none */
	bool gzip;
	/* file */
	char path[GX_PATH_MAX];
	uint64_t rotate_bytes; /* 0 = never; default 64 MiB */
	unsigned keep;	       /* rotated files kept, default 5 */
	/* every kind */
	uint64_t queue_max_bytes; /* bound of the on-disk queue */
	uint32_t batch_max_events;
	uint32_t batch_max_bytes;
	uint32_t timeout_ms;   /* connect / send / HTTP request */
	uint32_t retry_min_ms; /* first backoff after a failure, doubled up to max */
	uint32_t retry_max_ms;
	char schema_version[16];  /* OCSF version delivered, as written */
	enum ocsf_version schema; /* the same, parsed */
	struct gx_filter filter;
};

struct gx_config {
	char queue_dir[GX_PATH_MAX]; /* "" = <data-dir>/export */
	struct gx_dest dests[GX_DEST_MAX];
	size_t n;
};

/* Loads the export section of the YAML file at `path` into *out (zeroed
 * first). A missing file or a file without `export` gives an empty config
 * (n = 0). Returns 0, or OSH_EPARSE / OSH_EINVAL / OSH_ETOOBIG / OSH_EIO with
 * "file:line:key: what" in err (*out then holds nothing of the file). */
OSH_MUST_CHECK int gx_config_load(const char *path, struct gx_config *out, char *err,
				  size_t errlen);

/* Same from text (`path` names it in errors). */
OSH_MUST_CHECK int gx_config_load_text(const char *path, const char *text, size_t len,
				       struct gx_config *out, char *err, size_t errlen);

/* Whether two loaded configs are the same (member by member). */
bool gx_config_same(const struct gx_config *a, const struct gx_config *b);

/* "syslog", "http", "file". */
const char *gx_kind_name(enum gx_kind k);

#endif
