/* cli_term.c - `openshell term`: sandboxes and a live log panel in ncurses.
 *
 * DESIGN: one thread, one loop. Each turn waits at most TICK_MS for the log
 * stream of the selected sandbox (WatchSandboxLogs, the same call as
 * `logs --tail`), then reads keys without blocking, refreshes the sandbox
 * list once a second (ListSandboxes, paged like `sandbox list`) and redraws
 * the whole screen; curses sends only what changed. Lines are kept in a
 * bounded ring (RING lines, oldest dropped), copied and escaped on arrival
 * with the log format's rules, so nothing a sandbox pushes can drive the
 * terminal. Filters (level, source, text) apply when drawing, so changing one
 * shows the history at once. PAUSED freezes the view (lines keep arriving);
 * FOLLOWING keeps the newest line at the bottom. The detail view finds the
 * OCSF event of a line in the sandbox's JSONL file (same millisecond, same
 * event code) and pretty-prints it with cJSON. Without a terminal it prints
 * one line and exits 1 instead of drawing into a pipe. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <cjson/cJSON.h>
#include <curses.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_internal.h"
#include "osh_level.h"
#include "osh_time.h"
#include "sandbox.pb-c.h"

#define SVC	   (&openshell__v1__open_shell__descriptor)
#define TICK_MS	   100
#define LIST_MS	   1000
#define RING	   2000
#define TAIL_LINES 200
#define MAX_SB	   256
#define LIST_W	   42
#define DETAIL_MAX (64 * 1024)
#define JSONL_NAME "openshell-ocsf.log"
#define JSONL_SCAN (8L * 1024 * 1024) /* bytes of the JSONL file searched, from its end */

enum { C_ERR = 1, C_WARN, C_INFO, C_DIM, C_BAR, C_SEL };

struct tline {
	int64_t ts;
	char source[8];
	char level[8];
	char *text;   /* "[target] message k=v...", escaped */
	uint64_t seq; /* arrival number: PAUSED shows only lines before the pause */
	enum osh_level rank;
};

struct tsb {
	char name[128];
	char state[16];
	char log_dir[512];
	int pid;
	int64_t created_ms;
};

struct term {
	struct osh_rpc_client *c;
	const char *gateway;
	struct tsb sb[MAX_SB];
	size_t n_sb, sel;
	char watching[128]; /* sandbox whose stream is open */
	char watch_log_dir[512];
	struct osh_rpc_sstream *ss;
	struct tline ring[RING];
	size_t head, count;
	uint64_t total, pause_seq;
	bool paused, log_focus;
	size_t cursor; /* index among the filtered lines (when paused) */
	int min_rank;  /* -1 = all */
	int source_i;  /* 0 all, 1 sandbox, 2 agent, 3 gateway */
	char filter[64];
	char status[160];
	int64_t next_list;
};

static const char *const sources[] = {"all", "sandbox", "agent", "gateway"};

static void ring_clear(struct term *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->ring[(t->head + i) % RING].text);
	t->head = t->count = 0;
	t->cursor = 0;
}

static void ring_add(struct term *t, const Openshell__V1__SandboxLogLine *l)
{
	char buf[4096];
	size_t n = 0;
	struct tline *d;

	if (t->count == RING) {
		free(t->ring[t->head].text);
		t->head = (t->head + 1) % RING;
		t->count--;
	}
	d = &t->ring[(t->head + t->count) % RING];
	d->ts = l->timestamp_ms;
	d->seq = t->total;
	cli_escape_text(l->source[0] ? l->source : "gateway", d->source, sizeof(d->source));
	cli_escape_text(l->level, d->level, sizeof(d->level));
	d->rank = osh_level_rank_line(l->level, l->message);
	n += (size_t)snprintf(buf, sizeof(buf), "[");
	n += cli_escape_text(l->target, buf + n, sizeof(buf) - n);
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "] ");
	if (n < sizeof(buf))
		n += cli_escape_text(l->message, buf + n, sizeof(buf) - n);
	for (size_t i = 0; i < l->n_fields && n < sizeof(buf); i++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " ");
		if (n < sizeof(buf))
			n += cli_escape_text(l->fields[i]->key, buf + n, sizeof(buf) - n);
		if (n < sizeof(buf))
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "=");
		if (n < sizeof(buf))
			n += cli_escape_text(l->fields[i]->value, buf + n, sizeof(buf) - n);
	}
	buf[sizeof(buf) - 1] = '\0';
	d->text = strdup(buf);
	if (d->text == NULL)
		return; /* out of memory: the line is not kept */
	t->count++;
	t->total++;
}

static bool passes(const struct term *t, const struct tline *l)
{
	if (t->paused && l->seq >= t->pause_seq)
		return false;
	if (t->min_rank >= 0 && (int)l->rank < t->min_rank)
		return false;
	if (t->source_i > 0 && strcmp(l->source, sources[t->source_i]) != 0)
		return false;
	return t->filter[0] == '\0' || strstr(l->text, t->filter) != NULL;
}

/* Indices (into the ring order) of the lines that pass the filters. */
static size_t filtered(const struct term *t, size_t *idx)
{
	size_t n = 0;
	for (size_t i = 0; i < t->count; i++)
		if (passes(t, &t->ring[(t->head + i) % RING]))
			idx[n++] = i;
	return n;
}

static void watch_close(struct term *t)
{
	if (t->ss != NULL) {
		osh_rpc_sstream_cancel(t->ss);
		osh_rpc_sstream_destroy(t->ss);
		t->ss = NULL;
	}
	t->watching[0] = '\0';
}

static void watch_open(struct term *t, const struct tsb *s)
{
	Openshell__V1__WatchSandboxLogsRequest req =
	    OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = 0};

	watch_close(t);
	ring_clear(t);
	req.name = (char *)(uintptr_t)s->name;
	req.tail_lines = TAIL_LINES;
	if (osh_rpc_sstream_open(t->c, "WatchSandboxLogs", &req.base, &o, &t->ss) != OSH_OK) {
		snprintf(t->status, sizeof(t->status), "cannot open the log stream of %.100s",
			 s->name);
		t->ss = NULL;
		return;
	}
	snprintf(t->watching, sizeof(t->watching), "%s", s->name);
	snprintf(t->watch_log_dir, sizeof(t->watch_log_dir), "%s", s->log_dir);
}

static void refresh_list(struct term *t)
{
	void **pages = NULL;
	size_t n_pages = 0, n = 0;
	struct osh_rpc_status st;
	char keep[128];

	memset(&st, 0, sizeof(st));
	snprintf(keep, sizeof(keep), "%s", t->n_sb ? t->sb[t->sel].name : "");
	if (cli_list_all(t->c, &pages, &n_pages, &st) != OSH_OK) {
		snprintf(t->status, sizeof(t->status), "gateway %.60s: %.80s", t->gateway,
			 st.message);
	} else {
		for (size_t p = 0; p < n_pages; p++) {
			const Openshell__V1__ListSandboxesResponse *r = pages[p];
			for (size_t i = 0; i < r->n_sandboxes && n < MAX_SB; i++, n++) {
				const Openshell__V1__Sandbox *s = r->sandboxes[i];
				snprintf(t->sb[n].name, sizeof(t->sb[n].name), "%s", s->name);
				snprintf(t->sb[n].state, sizeof(t->sb[n].state), "%s",
					 cli_state_name(s->state));
				snprintf(t->sb[n].log_dir, sizeof(t->sb[n].log_dir), "%s",
					 s->log_dir);
				t->sb[n].pid = s->pid;
				t->sb[n].created_ms = s->created_ms;
			}
		}
		t->n_sb = n;
		t->sel = 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(t->sb[i].name, keep) == 0)
				t->sel = i;
		if (t->status[0] != '\0' && strncmp(t->status, "gateway ", 8) == 0)
			t->status[0] = '\0';
	}
	for (size_t p = 0; p < n_pages; p++)
		osh_rpc_msg_free(pages[p]);
	free(pages);
	if (t->n_sb > 0 && strcmp(t->watching, t->sb[t->sel].name) != 0)
		watch_open(t, &t->sb[t->sel]);
	if (t->n_sb == 0)
		watch_close(t);
}

static void pump_stream(struct term *t)
{
	ProtobufCMessage *msg = NULL;
	struct osh_rpc_status st;
	int r;

	if (t->ss == NULL) {
		napms(TICK_MS);
		return;
	}
	r = osh_rpc_sstream_next(t->ss, TICK_MS, &msg, &st);
	while (r == OSH_OK) {
		Openshell__V1__WatchSandboxLogsResponse *w = (void *)msg;
		for (size_t i = 0; i < w->n_logs; i++)
			ring_add(t, w->logs[i]);
		osh_rpc_msg_free(msg);
		msg = NULL;
		r = osh_rpc_sstream_next(t->ss, 0, &msg, &st);
	}
	if (r != OSH_ETIMEDOUT) {
		/* stream ended (sandbox deleted, gateway gone): reopen at the next
		 * list refresh if the sandbox is still there */
		osh_rpc_sstream_destroy(t->ss);
		t->ss = NULL;
		t->watching[0] = '\0';
	}
}

static void age(int64_t created_ms, char *buf, size_t cap)
{
	int64_t s = (osh_time_wall_ms() - created_ms) / 1000;
	if (created_ms <= 0 || s < 0)
		snprintf(buf, cap, "-");
	else if (s < 120)
		snprintf(buf, cap, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, cap, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, cap, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, cap, "%lldd", (long long)(s / 86400));
}

static int rank_color(enum osh_level r)
{
	switch (r) {
	case OSH_LEVEL_ERROR:
		return C_ERR;
	case OSH_LEVEL_WARN:
		return C_WARN;
	case OSH_LEVEL_INFO:
		return C_INFO;
	default:
		return C_DIM;
	}
}

static void put_clipped(int y, int x, int w, const char *s)
{
	if (w > 0)
		mvaddnstr(y, x, s, w);
}

static void draw(struct term *t, size_t *idx)
{
	int rows, cols, list_w, log_x, log_w, log_h;
	size_t n = filtered(t, idx), first;
	char bar[512];
	const char *lvl[] = {"all", "trace", "debug", "info", "warn", "error"};

	getmaxyx(stdscr, rows, cols);
	erase();
	if (rows < 5 || cols < 30) {
		put_clipped(0, 0, cols, "terminal too small");
		refresh();
		return;
	}
	list_w = cols >= 90 ? LIST_W : cols / 3;
	log_x = list_w + 1;
	log_w = cols - log_x;
	log_h = rows - 3;

	/* header */
	attron(COLOR_PAIR(C_BAR) | A_BOLD);
	mvhline(0, 0, ' ', cols);
	snprintf(bar, sizeof(bar), " openshell term  %s  %s  level>=%s source=%s%s%s%s", t->gateway,
		 t->paused ? "PAUSED" : "FOLLOWING", lvl[t->min_rank < 0 ? 0 : t->min_rank + 1],
		 sources[t->source_i], t->filter[0] ? " filter=\"" : "", t->filter,
		 t->filter[0] ? "\"" : "");
	put_clipped(0, 0, cols, bar);
	attroff(COLOR_PAIR(C_BAR) | A_BOLD);

	/* sandbox list */
	attron(A_BOLD);
	snprintf(bar, sizeof(bar), "%-18s %-9s %7s %5s", "NAME", "STATE", "PID", "AGE");
	put_clipped(1, 0, list_w, bar);
	attroff(A_BOLD);
	for (size_t i = 0; i < t->n_sb && (int)i < rows - 3; i++) {
		char a[16], pid[16];
		age(t->sb[i].created_ms, a, sizeof(a));
		if (t->sb[i].pid > 0)
			snprintf(pid, sizeof(pid), "%d", t->sb[i].pid);
		else
			snprintf(pid, sizeof(pid), "-");
		snprintf(bar, sizeof(bar), "%-18.18s %-9s %7s %5s", t->sb[i].name, t->sb[i].state,
			 pid, a);
		if (i == t->sel)
			attron(COLOR_PAIR(C_SEL) | (t->log_focus ? 0 : A_BOLD));
		put_clipped(2 + (int)i, 0, list_w, bar);
		if (i == t->sel)
			attroff(COLOR_PAIR(C_SEL) | A_BOLD);
	}
	if (t->n_sb == 0)
		put_clipped(2, 0, list_w, "(no sandboxes)");
	mvvline(1, list_w, ACS_VLINE, rows - 2);

	/* log panel: the newest lines that fit when following; around the
	 * cursor when paused */
	if (!t->paused || t->cursor >= n)
		t->cursor = n ? n - 1 : 0;
	first = n > (size_t)log_h ? n - (size_t)log_h : 0;
	if (t->paused && n > (size_t)log_h && t->cursor < first)
		first = t->cursor;
	snprintf(bar, sizeof(bar), " %s (%zu of %zu lines)", t->watching[0] ? t->watching : "-", n,
		 t->count);
	attron(A_BOLD);
	put_clipped(1, log_x, log_w, bar);
	attroff(A_BOLD);
	for (size_t k = first; k < n && (int)(k - first) < log_h; k++) {
		const struct tline *l = &t->ring[(t->head + idx[k]) % RING];
		time_t secs = (time_t)(l->ts / 1000);
		struct tm tm;
		char hms[16] = "--:--:--";
		int y = 2 + (int)(k - first), x = log_x;
		bool cur = t->paused && t->log_focus && k == t->cursor;

		if (localtime_r(&secs, &tm) != NULL)
			strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		if (cur)
			attron(A_REVERSE);
		snprintf(bar, sizeof(bar), "%s %7s ", hms, l->source);
		put_clipped(y, x, log_w, bar);
		x += (int)strlen(bar);
		attron(COLOR_PAIR(rank_color(l->rank)));
		snprintf(bar, sizeof(bar), "%-5s ", l->level);
		put_clipped(y, x, log_x + log_w - x, bar);
		attroff(COLOR_PAIR(rank_color(l->rank)));
		x += (int)strlen(bar);
		put_clipped(y, x, log_x + log_w - x, l->text);
		if (cur)
			attroff(A_REVERSE);
	}

	/* status line */
	attron(COLOR_PAIR(C_BAR));
	mvhline(rows - 1, 0, ' ', cols);
	put_clipped(rows - 1, 0, cols,
		    t->status[0] ? t->status
				 : " q quit  Up/Down select  Tab log cursor  p pause  / filter  "
				   "l level  s source  Enter detail");
	attroff(COLOR_PAIR(C_BAR));
	refresh();
}

/* Reads a line of text at the bottom (the filter); Esc cancels. */
static void prompt(struct term *t, const char *what, char *out, size_t cap)
{
	int rows, cols;
	char buf[64] = "";

	getmaxyx(stdscr, rows, cols);
	(void)cols;
	attron(COLOR_PAIR(C_BAR));
	mvhline(rows - 1, 0, ' ', COLS);
	mvprintw(rows - 1, 0, " %s: ", what);
	attroff(COLOR_PAIR(C_BAR));
	echo();
	curs_set(1);
	timeout(-1);
	if (getnstr(buf, (int)sizeof(buf) - 1) == OK)
		snprintf(out, cap, "%s", buf);
	noecho();
	curs_set(0);
	timeout(0);
	t->status[0] = '\0';
}

/* The OCSF event of line l in the sandbox's JSONL file, pretty-printed into a
 * new string (free), or NULL when JSONL is off or no event matches. */
static char *find_ocsf(const struct term *t, const struct tline *l)
{
	char path[700], code[64] = "", *buf = NULL, *res = NULL;
	const char *msg = strchr(l->text, ']');
	FILE *f;
	long size, from;
	size_t n;

	if (strcmp(l->level, "OCSF") != 0 || msg == NULL || t->watch_log_dir[0] == '\0')
		return NULL;
	/* "NET:OPEN [MED] ..." -> event_code is written in the JSON as well */
	sscanf(msg + 1, " %63s", code);
	snprintf(path, sizeof(path), "%s/%s", t->watch_log_dir, JSONL_NAME);
	f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0) {
		from = size > JSONL_SCAN ? size - JSONL_SCAN : 0;
		buf = malloc((size_t)(size - from) + 1);
		if (buf != NULL && fseek(f, from, SEEK_SET) == 0) {
			n = fread(buf, 1, (size_t)(size - from), f);
			buf[n] = '\0';
		} else if (buf != NULL) {
			buf[0] = '\0';
		}
	}
	fclose(f);
	for (char *line = buf, *next; line != NULL && *line != '\0' && res == NULL; line = next) {
		cJSON *j, *time_v;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		j = cJSON_Parse(line);
		if (j == NULL)
			continue;
		time_v = cJSON_GetObjectItemCaseSensitive(j, "time");
		if (cJSON_IsNumber(time_v) && (int64_t)time_v->valuedouble == l->ts)
			res = cJSON_Print(j);
		cJSON_Delete(j);
	}
	free(buf);
	return res;
}

/* Full-screen view of one line (and its OCSF JSON); any key returns. */
static void detail(struct term *t, const struct tline *l)
{
	char *json = find_ocsf(t, l);
	char head[128], ts[OSH_TIME_RFC3339_LEN];
	int rows, cols, y = 0, skip = 0;
	int ch;

	osh_time_format_utc(l->ts, ts, sizeof(ts));
	for (;;) {
		const char *p;
		getmaxyx(stdscr, rows, cols);
		erase();
		attron(COLOR_PAIR(C_BAR) | A_BOLD);
		mvhline(0, 0, ' ', cols);
		snprintf(head, sizeof(head), " %s  %s  %s  (any key returns, Up/Down scroll)", ts,
			 l->source, l->level);
		put_clipped(0, 0, cols, head);
		attroff(COLOR_PAIR(C_BAR) | A_BOLD);
		y = 1;
		for (p = l->text; *p != '\0' && y < rows; y++) {
			size_t k = strlen(p) < (size_t)cols ? strlen(p) : (size_t)cols;
			mvaddnstr(y, 0, p, (int)k);
			p += k;
		}
		y++;
		if (json == NULL) {
			put_clipped(y, 0, cols,
				    strcmp(l->level, "OCSF") == 0
					? "(no OCSF JSON: the sandbox's JSONL file is off or does "
					  "not hold this event; see ocsf_logging_enabled)"
					: "(not an OCSF event)");
		} else {
			int line = 0;
			for (p = json; *p != '\0' && y < rows; line++) {
				size_t k = strcspn(p, "\n");
				if (line >= skip)
					mvaddnstr(y++, 0, p,
						  (int)(k < (size_t)cols ? k : (size_t)cols));
				p += k;
				if (*p == '\n')
					p++;
			}
		}
		refresh();
		timeout(-1);
		ch = getch();
		timeout(0);
		if (ch == KEY_DOWN)
			skip++;
		else if (ch == KEY_UP && skip > 0)
			skip--;
		else if (ch != KEY_RESIZE)
			break;
	}
	cJSON_free(json);
}

static void pause_set(struct term *t, bool on)
{
	if (on && !t->paused)
		t->pause_seq = t->total;
	t->paused = on;
}

static bool handle_key(struct term *t, int ch, size_t *idx)
{
	size_t n;
	switch (ch) {
	case 'q':
	case 'Q':
		return false;
	case KEY_UP:
	case 'k':
		if (t->log_focus) {
			pause_set(t, true);
			if (t->cursor > 0)
				t->cursor--;
		} else if (t->sel > 0) {
			t->sel--;
		}
		break;
	case KEY_DOWN:
	case 'j':
		if (t->log_focus) {
			pause_set(t, true);
			t->cursor++;
		} else if (t->sel + 1 < t->n_sb) {
			t->sel++;
		}
		break;
	case KEY_PPAGE:
		pause_set(t, true);
		t->cursor = t->cursor > (size_t)(LINES - 3) ? t->cursor - (size_t)(LINES - 3) : 0;
		break;
	case KEY_NPAGE:
		t->cursor += (size_t)(LINES - 3);
		break;
	case '\t':
		t->log_focus = !t->log_focus;
		break;
	case 'p':
	case ' ':
		pause_set(t, !t->paused);
		break;
	case 'l':
		t->min_rank = t->min_rank >= OSH_LEVEL_ERROR ? -1 : t->min_rank + 1;
		break;
	case 's':
		t->source_i = (t->source_i + 1) % 4;
		break;
	case '/':
		prompt(t, "filter (empty clears)", t->filter, sizeof(t->filter));
		break;
	case '\n':
	case KEY_ENTER:
		n = filtered(t, idx);
		if (n > 0)
			detail(t,
			       &t->ring[(t->head + idx[t->cursor < n ? t->cursor : n - 1]) % RING]);
		break;
	case KEY_RESIZE:
		clear(); /* full repaint at the new size */
		break;
	default:
		break;
	}
	if (t->n_sb > 0 && strcmp(t->watching, t->sb[t->sel].name) != 0)
		watch_open(t, &t->sb[t->sel]);
	return true;
}

int osh_cli_term(const struct osh_cli_args *a, FILE *out, FILE *err)
{
	struct term *t = NULL;
	size_t *idx = NULL;
	int rc = OSH_CLI_EXIT_OK, ch;
	bool run = true;

	(void)out;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(err, "openshell: term needs a terminal (stdin and stdout are not both "
			     "a TTY); use `openshell sandbox list` and `openshell logs` in "
			     "scripts\n");
		return OSH_CLI_EXIT_FAIL;
	}
	t = calloc(1, sizeof(*t));
	idx = calloc(RING, sizeof(*idx));
	if (t == NULL || idx == NULL) {
		fprintf(err, "openshell: term: out of memory\n");
		rc = OSH_CLI_EXIT_FAIL;
		goto out;
	}
	t->gateway = a->gateway;
	t->min_rank = -1;
	if (cli_client_create(a->gateway, &t->c, err) != OSH_OK) {
		fprintf(err, "openshell: cannot reach gateway at %s: invalid address\n",
			a->gateway);
		rc = OSH_CLI_EXIT_UNREACHABLE;
		goto out;
	}
	setlocale(LC_ALL, "");
	if (newterm(NULL, stdout, stdin) == NULL) {
		fprintf(err, "openshell: term: cannot use terminal type '%s' (set TERM)\n",
			getenv("TERM") != NULL ? getenv("TERM") : "");
		rc = OSH_CLI_EXIT_FAIL;
		goto out;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(C_ERR, COLOR_RED, -1);
		init_pair(C_WARN, COLOR_YELLOW, -1);
		init_pair(C_INFO, COLOR_GREEN, -1);
		init_pair(C_DIM, COLOR_BLUE, -1);
		init_pair(C_BAR, COLOR_BLACK, COLOR_CYAN);
		init_pair(C_SEL, COLOR_BLACK, COLOR_WHITE);
	}
	while (run) {
		int64_t now = osh_time_mono_ms();
		if (now >= t->next_list) {
			refresh_list(t);
			t->next_list = now + LIST_MS;
		}
		pump_stream(t);
		while (run && (ch = getch()) != ERR)
			run = handle_key(t, ch, idx);
		if (run)
			draw(t, idx);
	}
	endwin();
out:
	if (t != NULL) {
		watch_close(t);
		ring_clear(t);
		osh_rpc_client_destroy(t->c);
	}
	free(t);
	free(idx);
	return rc;
}
