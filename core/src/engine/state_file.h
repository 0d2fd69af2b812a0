/* The checkpoint store's database file before SQLite opens it (internal to state.c). */
#ifndef DFW_ENGINE_STATE_FILE_H
#define DFW_ENGINE_STATE_FILE_H

#include <stddef.h>
#include "dfw/err.h"

/* Make db_path (in dir) ready for sqlite3_open: when it does not exist, create it whole (an SQLite
 * header, WAL mode) under a temporary name and rename it into place, so that a checkpoints.db
 * that exists was made complete. When it exists, refuse one SQLite would take for something it is
 * not: empty (SQLite would take it for a new, empty store) or shorter than its header says while
 * no write-ahead log is there to complete it (SQLite would read the missing pages as zeros and
 * may find no checkpoint where one was). DFW_ERR_INVALID for those, with errbuf naming the file
 * and what to do; DFW_ERR_IO when the file cannot be read or created. */
dfw_err dfw__state_file_prepare(const char *dir, const char *db_path, char *errbuf, size_t errlen);

#endif
