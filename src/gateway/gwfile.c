/* gwfile.c - see gwfile.h. */
#include "gwfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_TRIES 16

static const char *kind_of(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

int osh_gw_file_read(const char *path, size_t max, char **out, size_t *len, char *err,
		     size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, rc = OSH_EIO;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? OSH_ENOTFOUND : OSH_EIO;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = OSH_EINVAL;
		snprintf(err, errlen, "%s: is %s, not a regular file: refused", path,
			 kind_of(st.st_mode));
		goto out;
	}
	buf = malloc(max + 2);
	if (!buf) {
		rc = OSH_ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	/* Read to EOF (the size may change under us): at most max + 1 bytes. */
	while (n <= max) {
		ssize_t got = read(fd, buf + n, max + 1 - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > max) {
		rc = OSH_ETOOBIG;
		snprintf(err, errlen, "%s: file larger than %zu bytes", path, max);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The file a replacement goes to: path itself, or what its symlink chain
 * resolves to (the link is kept). */
static int replace_target(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	struct stat st;
	char real[PATH_MAX];

	if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) {
		if (snprintf(out, cap, "%s", path) >= (int)cap) {
			snprintf(err, errlen, "%s: path too long", path);
			return OSH_ETOOBIG;
		}
		return 0;
	}
	if (!realpath(path, real)) {
		snprintf(err, errlen, "%s: symlink does not resolve to a file: %s", path,
			 strerror(errno));
		return OSH_EIO;
	}
	if (snprintf(out, cap, "%s", real) >= (int)cap) {
		snprintf(err, errlen, "%s: path too long", real);
		return OSH_ETOOBIG;
	}
	return 0;
}

/* Creates "<target>.tmp.<16 hex>" exclusively (never through a symlink). */
static int temp_create(const char *target, mode_t mode, char *tmp, size_t cap, char *err,
		       size_t errlen)
{
	int fd = -1;

	for (int i = 0; i < TEMP_TRIES && fd < 0; i++) {
		unsigned char r[8];

		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			snprintf(err, errlen, "%s: no random bytes for a temp name: %s", target,
				 strerror(errno));
			return -1;
		}
		if (snprintf(tmp, cap, "%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", target, r[0],
			     r[1], r[2], r[3], r[4], r[5], r[6], r[7]) >= (int)cap) {
			snprintf(err, errlen, "%s: path too long", target);
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create temp file: %s", tmp,
				 strerror(errno));
			return -1;
		}
	}
	if (fd < 0)
		snprintf(err, errlen, "%s: no free temp name after %d tries", target, TEMP_TRIES);
	return fd;
}

int osh_gw_file_replace(const char *path, const void *data, size_t len, mode_t mode,
			bool follow_link, char *err, size_t errlen)
{
	char target[PATH_MAX], tmp[PATH_MAX + 32], dir[PATH_MAX];
	const char *slash;
	struct stat st;
	size_t off = 0;
	bool created = false;
	int fd = -1, dfd, rc;

	if (follow_link)
		rc = replace_target(path, target, sizeof(target), err, errlen);
	else
		rc = snprintf(target, sizeof(target), "%s", path) < (int)sizeof(target)
			 ? 0
			 : OSH_ETOOBIG;
	if (rc != 0)
		goto out;
	rc = OSH_EIO;
	if (lstat(target, &st) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 07777;
	fd = temp_create(target, mode, tmp, sizeof(tmp), err, errlen);
	if (fd < 0)
		goto out;
	created = true;
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	/* open() applied the umask: give the file the mode it is meant to have */
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "%s: close: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, target) != 0) {
		snprintf(err, errlen, "%s: rename over %s: %s", tmp, target, strerror(errno));
		goto out;
	}
	created = false;
	slash = strrchr(target, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash == target ? 1 : slash - target) : 1,
		 slash ? target : ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd); /* best effort: the rename is already visible */
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	return rc;
}

int osh_gw_file_lock_dir(const char *dir, int *fd_out, char *err, size_t errlen)
{
	char path[PATH_MAX], pid[32], held[32];
	ssize_t n;
	int fd = -1, rc = OSH_EIO;

	*fd_out = -1;
	if (snprintf(path, sizeof(path), "%s/gateway.lock", dir) >= (int)sizeof(path)) {
		rc = OSH_ETOOBIG;
		snprintf(err, errlen, "data dir %s: path too long", dir);
		goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "data dir lock %s: %s", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			rc = OSH_EEXIST;
			n = pread(fd, held, sizeof(held) - 1, 0);
			held[n > 0 ? n : 0] = '\0';
			held[strcspn(held, "\n")] = '\0';
			snprintf(err, errlen,
				 "data dir %s is in use by another gateway (pid %s, lock %s): "
				 "refusing to start",
				 dir, held[0] ? held : "?", path);
		} else {
			snprintf(err, errlen, "data dir lock %s: %s", path, strerror(errno));
		}
		goto out;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		snprintf(err, errlen, "data dir lock %s: %s", path, strerror(errno));
		goto out;
	}
	*fd_out = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}
