/* osh_labels.h - sandbox labels: what a label may be, their one stored form,
 * and label selectors.
 *
 * DESIGN
 * One rule for every place a label passes: the CLI (`sandbox create --label`,
 * `sandbox list --selector`), the gateway (CreateSandbox, ListSandboxes) and
 * the store. A key is [A-Za-z0-9][A-Za-z0-9._/-]{0,62}; a value is at most 63
 * printable ASCII characters (0x20-0x7e, may be empty); a sandbox has at most
 * 64 labels. A set of labels has one canonical text: one "KEY=VALUE\n" line
 * per label, sorted by key (bytewise), no key twice. A key holds no '=' and a
 * value no newline, so every line splits at its first '=' and the text is
 * unambiguous; it is what the store keeps and what a selector is compared
 * with. A selector "K=V[,K2=V2...]" is parsed into the same canonical text
 * and matches a label set that holds every one of its lines (a sorted merge;
 * "" matches every set). A value holding ',' can be stored but not selected.
 * Error texts name the offending label (or term) and the rule it broke.
 * Pure functions, thread-safe. Ownership: *out results are heap strings the
 * caller frees with free(). */
#ifndef OSH_LABELS_H
#define OSH_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "osh_err.h"

#define OSH_LABELS_MAX	    64 /* labels per sandbox */
#define OSH_LABEL_KEY_MAX   63 /* bytes of a key     */
#define OSH_LABEL_VALUE_MAX 63 /* bytes of a value   */

/* 0 when key/value is one valid label, else OSH_EINVAL (OSH_ETOOBIG when too
 * long) with err naming the label and the rule. */
OSH_MUST_CHECK int osh_labels_check(const char *key, const char *value, char *err, size_t errlen);

/* Canonical text of n labels (keys[i]=values[i]): each checked, no key twice
 * (OSH_EEXIST), at most OSH_LABELS_MAX (OSH_ETOOBIG). n = 0 gives "".
 * *out is heap (caller frees), NULL on error. */
OSH_MUST_CHECK int osh_labels_encode(const char *const *keys, const char *const *values, size_t n,
				     char **out, char *err, size_t errlen);

/* Splits one "KEY=VALUE" argument at its first '=' into key and value
 * buffers (each OSH_LABEL_*_MAX + 1 bytes) and checks the label. */
OSH_MUST_CHECK int osh_labels_split(const char *kv, char key[OSH_LABEL_KEY_MAX + 1],
				    char value[OSH_LABEL_VALUE_MAX + 1], char *err, size_t errlen);

/* Walks a canonical text: at *cursor (start with the text) reads the next
 * label into key/value and advances. Returns 1 for a label, 0 at the end,
 * OSH_EPARSE for text that is not canonical (a line without '=', a bad
 * label, keys out of order or repeated, no final newline). */
OSH_MUST_CHECK int osh_labels_next(const char **cursor, char key[OSH_LABEL_KEY_MAX + 1],
				   char value[OSH_LABEL_VALUE_MAX + 1]);

/* 0 when text is canonical (osh_labels_next reads it to the end) with at
 * most OSH_LABELS_MAX labels, else OSH_EPARSE with err saying where. NULL and
 * "" are the empty set. */
OSH_MUST_CHECK int osh_labels_validate(const char *text, char *err, size_t errlen);

/* Parses a selector "K=V[,K2=V2...]" into canonical text ("" for an empty
 * selector). Errors (OSH_EINVAL/OSH_ETOOBIG/OSH_EEXIST) name the bad term. */
OSH_MUST_CHECK int osh_labels_selector_parse(const char *selector, char **out, char *err,
					     size_t errlen);

/* True when the canonical label set `labels` holds every label of the
 * canonical selector `selector` (NULL/"" matches everything). Text that is
 * not canonical never matches a non-empty selector. */
bool osh_labels_match(const char *labels, const char *selector);

#endif
