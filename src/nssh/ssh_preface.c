/* ssh_preface.c - see osh_ssh_preface.h.
 *
 * DESIGN
 * The parser copies bounded fields out of the line and never reads past len,
 * so a line with NULs or no terminator is just malformed. The MAC is decoded
 * to 32 raw bytes and compared with CRYPTO_memcmp (no early exit, so timing
 * says nothing about how many bytes matched). The nonce cache stores SHA-256
 * digests of nonces (fixed 32 bytes whatever the nonce length) in a fixed
 * array scanned linearly: one scan per accepted connection over at most
 * OSH_SSH_NONCE_CAP entries is microseconds, and there is nothing to grow.
 */
#include "osh_ssh_preface.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

const char *osh_ssh_preface_result_name(enum osh_ssh_preface_result r)
{
	switch (r) {
	case OSH_SSH_PF_OK:
		return "ok";
	case OSH_SSH_PF_MALFORMED:
		return "malformed";
	case OSH_SSH_PF_TOO_LONG:
		return "too-long";
	case OSH_SSH_PF_SKEW:
		return "expired-timestamp";
	case OSH_SSH_PF_BAD_MAC:
		return "bad-hmac";
	case OSH_SSH_PF_REPLAY:
		return "nonce-replay";
	case OSH_SSH_PF_CACHE_FULL:
		return "nonce-cache-full";
	}
	return "unknown";
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int hexval(char c)
{
	int v = -1;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	return v;
}

/* A field of printable ASCII (0x21..0x7e), 1..max bytes, copied into out. */
static bool take_text(const char *s, size_t n, char *out, size_t max)
{
	bool ok = n >= 1 && n <= max;

	for (size_t i = 0; ok && i < n; i++)
		ok = s[i] > 0x20 && s[i] < 0x7f;
	if (ok) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return ok;
}

static bool take_ts(const char *s, size_t n, int64_t *out)
{
	bool neg = n > 0 && s[0] == '-';
	size_t i = neg ? 1 : 0;
	uint64_t v = 0;
	bool ok = n > i && n - i <= 19;

	for (; ok && i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			ok = false;
		else
			v = v * 10u + (uint64_t)(s[i] - '0');
	}
	/* 19 digits fit uint64; int64 holds up to 9223372036854775807. */
	if (ok && v > (uint64_t)INT64_MAX)
		ok = false;
	if (ok)
		*out = neg ? -(int64_t)v : (int64_t)v;
	return ok;
}

static bool take_mac(const char *s, size_t n, uint8_t mac[32])
{
	bool ok = n == 64;

	for (size_t i = 0; ok && i < 32; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			ok = false;
		else
			mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return ok;
}

enum osh_ssh_preface_result osh_ssh_preface_parse(const char *line, size_t len,
						  struct osh_ssh_preface *out, const char **why)
{
	enum osh_ssh_preface_result r = OSH_SSH_PF_MALFORMED;
	const char *f[6];
	size_t fl[6];
	int nf = 0;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	*why = "";
	if (len >= OSH_SSH_PREFACE_MAX) {
		r = OSH_SSH_PF_TOO_LONG;
		*why = "longer than 1024 bytes";
		goto out;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--;
	while (i < len && nf < 6) {
		size_t start;

		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		f[nf] = line + start;
		fl[nf++] = i - start;
	}
	if (nf != 5) {
		*why = nf > 5 ? "more than 5 fields" : "fewer than 5 fields";
		goto out;
	}
	if (fl[0] != 5 || memcmp(f[0], OSH_SSH_PREFACE_MAGIC, 5) != 0) {
		*why = "does not start with NSSH1";
		goto out;
	}
	if (!take_text(f[1], fl[1], out->token, OSH_SSH_FIELD_MAX)) {
		*why = "token is not 1-256 printable characters";
		goto out;
	}
	if (!take_ts(f[2], fl[2], &out->ts)) {
		*why = "timestamp is not an integer";
		goto out;
	}
	if (!take_text(f[3], fl[3], out->nonce, OSH_SSH_FIELD_MAX)) {
		*why = "nonce is not 1-256 printable characters";
		goto out;
	}
	if (!take_mac(f[4], fl[4], out->mac)) {
		*why = "hmac is not 64 hex digits";
		goto out;
	}
	r = OSH_SSH_PF_OK;
out:
	return r;
}

/* HMAC-SHA256 of "token|ts|nonce" under secret into mac. 0 or -1. */
static int mac_of(const char *token, int64_t ts, const char *nonce, const char *secret,
		  size_t secret_len, uint8_t mac[32])
{
	char msg[2 * OSH_SSH_FIELD_MAX + 32];
	unsigned int ml = 0;
	int n = snprintf(msg, sizeof(msg), "%s|%lld|%s", token, (long long)ts, nonce);
	int rc = -1;

	if (n > 0 && (size_t)n < sizeof(msg) &&
	    HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, (size_t)n, mac,
		 &ml) != NULL &&
	    ml == 32)
		rc = 0;
	OPENSSL_cleanse(msg, sizeof(msg));
	return rc;
}

enum osh_ssh_preface_result osh_ssh_preface_verify(const struct osh_ssh_preface *p,
						   const char *secret, size_t secret_len,
						   int64_t now_s, int64_t skew_s)
{
	enum osh_ssh_preface_result r = OSH_SSH_PF_BAD_MAC;
	uint8_t want[32];
	/* |now - ts| without overflow: ts may be anywhere in int64. */
	bool in_window = p->ts >= now_s ? (uint64_t)p->ts - (uint64_t)now_s <= (uint64_t)skew_s
					: (uint64_t)now_s - (uint64_t)p->ts <= (uint64_t)skew_s;

	if (!in_window) {
		r = OSH_SSH_PF_SKEW;
		goto out;
	}
	if (secret_len == 0 || mac_of(p->token, p->ts, p->nonce, secret, secret_len, want) != 0)
		goto out;
	if (CRYPTO_memcmp(want, p->mac, sizeof(want)) == 0)
		r = OSH_SSH_PF_OK;
out:
	OPENSSL_cleanse(want, sizeof(want));
	return r;
}

int osh_ssh_preface_build(const char *token, int64_t ts, const char *nonce, const char *secret,
			  size_t secret_len, char *out, size_t cap)
{
	char tk[OSH_SSH_FIELD_MAX + 1], nc[OSH_SSH_FIELD_MAX + 1];
	uint8_t mac[32];
	char hex[65];
	int rc = OSH_EINVAL;
	int n;

	if (!token || !nonce || !secret || !secret_len ||
	    !take_text(token, strlen(token), tk, OSH_SSH_FIELD_MAX) ||
	    !take_text(nonce, strlen(nonce), nc, OSH_SSH_FIELD_MAX))
		goto out;
	if (mac_of(token, ts, nonce, secret, secret_len, mac) != 0)
		goto out;
	for (int i = 0; i < 32; i++)
		snprintf(hex + (size_t)2 * (size_t)i, 3, "%02x", mac[i]);
	n = snprintf(out, cap, "%s %s %lld %s %s\n", OSH_SSH_PREFACE_MAGIC, token, (long long)ts,
		     nonce, hex);
	rc = n > 0 && (size_t)n < cap && n <= OSH_SSH_PREFACE_MAX ? n : OSH_ETOOBIG;
out:
	return rc;
}

/* ---------------------------------------------------------- nonce cache */

struct nonce_ent {
	uint8_t digest[SHA256_DIGEST_LENGTH];
	int64_t at;
	bool used;
};

struct osh_ssh_nonce {
	pthread_mutex_t mu;
	int64_t expire_s;
	struct nonce_ent ent[OSH_SSH_NONCE_CAP];
};

int osh_ssh_nonce_new(int64_t expire_s, struct osh_ssh_nonce **out)
{
	struct osh_ssh_nonce *c = calloc(1, sizeof(*c));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (c) {
		pthread_mutex_init(&c->mu, NULL);
		c->expire_s = expire_s;
		*out = c;
		rc = 0;
	}
	return rc;
}

void osh_ssh_nonce_free(struct osh_ssh_nonce *c)
{
	if (c) {
		pthread_mutex_destroy(&c->mu);
		free(c);
	}
}

static bool expired(const struct osh_ssh_nonce *c, const struct nonce_ent *e, int64_t now_s)
{
	return now_s - e->at > c->expire_s || now_s < e->at - c->expire_s;
}

enum osh_ssh_preface_result osh_ssh_nonce_check(struct osh_ssh_nonce *c, const char *nonce,
						int64_t now_s)
{
	enum osh_ssh_preface_result r = OSH_SSH_PF_CACHE_FULL;
	uint8_t d[SHA256_DIGEST_LENGTH];
	struct nonce_ent *free_slot = NULL;

	SHA256((const unsigned char *)nonce, strlen(nonce), d);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < OSH_SSH_NONCE_CAP; i++) {
		struct nonce_ent *e = &c->ent[i];

		if (e->used && expired(c, e, now_s))
			e->used = false;
		if (!e->used) {
			if (!free_slot)
				free_slot = e;
			continue;
		}
		if (memcmp(e->digest, d, sizeof(d)) == 0) {
			r = OSH_SSH_PF_REPLAY;
			goto out;
		}
	}
	if (free_slot) {
		memcpy(free_slot->digest, d, sizeof(d));
		free_slot->at = now_s;
		free_slot->used = true;
		r = OSH_SSH_PF_OK;
	}
out:
	pthread_mutex_unlock(&c->mu);
	return r;
}

size_t osh_ssh_nonce_count(struct osh_ssh_nonce *c, int64_t now_s)
{
	size_t n = 0;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < OSH_SSH_NONCE_CAP; i++) {
		if (c->ent[i].used && expired(c, &c->ent[i], now_s))
			c->ent[i].used = false;
		n += c->ent[i].used;
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}
