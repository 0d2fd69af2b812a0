/* Reading secrets (client secrets, private keys, refresh tokens) safely. */
#ifndef DFW_SECRET_H
#define DFW_SECRET_H

#include <stddef.h>
#include "dfw/config.h"
#include "dfw/err.h"

/* Read the secret ref points to: a file (refused with DFW_ERR_PERM when group- or world-readable
 * or not a regular file), a systemd credential ($CREDENTIALS_DIRECTORY/<name>, same check), or an
 * environment variable. Trailing CR/LF is removed. On success *out is a malloc'd NUL-terminated
 * string the caller frees with dfw_secret_free; *len (may be NULL) gets its length. Errors name
 * the file or variable, never the content: DFW_ERR_NOTFOUND (missing/empty), DFW_ERR_PERM,
 * DFW_ERR_IO, DFW_ERR_CONFIG (no source set). Thread-safe. */
dfw_err dfw_secret_read(
    const struct dfw_secret_ref *ref, char **out, size_t *len, char *errbuf, size_t errlen);

/* Check that a path is a regular file with no group/other permission bits. DFW_OK, DFW_ERR_PERM,
 * DFW_ERR_NOTFOUND. */
dfw_err dfw_secret_check_file(const char *path, char *errbuf, size_t errlen);

/* Overwrite a secret with zeros and free it. NULL is a no-op. */
void dfw_secret_free(char *secret);

/* Replace a secret file atomically (temp file mode 0600 in the same directory, fsync, rename,
 * fsync dir). For rotated refresh tokens. */
dfw_err dfw_secret_write_file(const char *path, const char *secret, char *errbuf, size_t errlen);

#endif
