#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfw/state.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/dfw-test-state-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void save_load_round_trip(void **state)
{
    (void)state;
    char err[512];
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    assert_non_null(st);
    struct dfw_cursor c, d;
    dfw_cursor_init(&c, 1000);
    dfw_cursor_init(&d, 0);
    assert_int_equal(dfw_state_load(st, "contoso", "mde-alerts", &d, err, sizeof(err)),
                     DFW_ERR_NOTFOUND);
    c.delivered = 5;
    assert_int_equal(dfw_state_save(st, "contoso", "mde-alerts", &c, err, sizeof(err)), DFW_OK);
    /* staged: visible to this handle, not on disk yet */
    assert_int_equal(dfw_state_staged(st), 1);
    assert_int_equal(dfw_state_load(st, "contoso", "mde-alerts", &d, err, sizeof(err)), DFW_OK);
    assert_int_equal(d.delivered, 5);
    struct dfw_state *reader = dfw_state_open(dir, 0, err, sizeof(err));
    assert_non_null(reader);
    assert_int_equal(dfw_state_load(reader, "contoso", "mde-alerts", &d, err, sizeof(err)),
                     DFW_ERR_NOTFOUND);
    assert_int_equal(dfw_state_commit(st, err, sizeof(err)), DFW_OK);
    assert_int_equal(dfw_state_staged(st), 0);
    assert_int_equal(dfw_state_load(reader, "contoso", "mde-alerts", &d, err, sizeof(err)), DFW_OK);
    assert_int_equal(d.high_water_ms, 1000);
    assert_int_equal(d.delivered, 5);
    dfw_state_close(reader);
    /* the database is private */
    char path[512];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/checkpoints.db", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
    dfw_cursor_clear(&c);
    dfw_cursor_clear(&d);
    dfw_state_close(st);
}

/* Many checkpoints, one transaction: the group commit. */
static void group_commit(void **state)
{
    (void)state;
    char err[512], tenant[32];
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    struct dfw_cursor c;
    dfw_cursor_init(&c, 42);
    uint64_t before = dfw_state_commits(st);
    for (int i = 0; i < 1000; i++) {
        snprintf(tenant, sizeof(tenant), "t%04d", i);
        assert_int_equal(dfw_state_save(st, tenant, "graph-alerts", &c, err, sizeof(err)), DFW_OK);
        assert_int_equal(dfw_state_save(st, tenant, "graph-alerts", &c, err, sizeof(err)), DFW_OK);
    }
    assert_int_equal(dfw_state_staged(st), 1000);
    assert_int_equal(dfw_state_commit(st, err, sizeof(err)), DFW_OK);
    assert_int_equal(dfw_state_commits(st) - before, 1);
    /* nothing staged: no transaction */
    assert_int_equal(dfw_state_commit(st, err, sizeof(err)), DFW_OK);
    assert_int_equal(dfw_state_commits(st) - before, 1);
    FILE *out = tmpfile();
    assert_int_equal(dfw_state_show(st, NULL, out, err, sizeof(err)), DFW_OK);
    assert_int_equal(ftell(out) > 1000 * 60, 1);
    fclose(out);
    dfw_cursor_clear(&c);
    dfw_state_close(st);
}

/* Checkpoint files of the layout before are imported once, then kept aside. */
static void imports_checkpoint_files(void **state)
{
    (void)state;
    char err[512], path[512];
    snprintf(path, sizeof(path), "%s/checkpoints", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/checkpoints/contoso", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/checkpoints/contoso/mde-alerts.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"version\":1,\"high_water_ms\":1767225600000,\"delivered\":9,\"seen\":[]}\n", f);
    fclose(f);
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    assert_non_null(st);
    struct dfw_cursor c;
    dfw_cursor_init(&c, 0);
    assert_int_equal(dfw_state_load(st, "contoso", "mde-alerts", &c, err, sizeof(err)), DFW_OK);
    assert_int_equal(c.high_water_ms, 1767225600000LL);
    assert_int_equal(c.delivered, 9);
    snprintf(path, sizeof(path), "%s/checkpoints.imported/contoso/mde-alerts.json", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/checkpoints", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    dfw_cursor_clear(&c);
    dfw_state_close(st);
}

static void second_instance_is_locked_out(void **state)
{
    (void)state;
    char err[512];
    struct dfw_state *a = dfw_state_open(dir, 1, err, sizeof(err));
    assert_non_null(a);
    struct dfw_state *b = dfw_state_open(dir, 1, err, sizeof(err));
    assert_null(b);
    assert_non_null(strstr(err, "locked by another"));
    /* read-only access (state show) needs no lock */
    struct dfw_state *ro = dfw_state_open(dir, 0, err, sizeof(err));
    assert_non_null(ro);
    dfw_state_close(ro);
    dfw_state_close(a);
    b = dfw_state_open(dir, 1, err, sizeof(err));
    assert_non_null(b);
    dfw_state_close(b);
}

/* A checkpoint file that cannot be imported stops the open, naming it; nothing is imported. */
static void corrupt_checkpoint_file_is_an_error(void **state)
{
    (void)state;
    char err[512], path[512];
    snprintf(path, sizeof(path), "%s/checkpoints", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/checkpoints/fabrikam", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/checkpoints/fabrikam/graph-alerts.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"high_water_ms\": ", f);
    fclose(f);
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    assert_null(st);
    assert_non_null(strstr(err, "graph-alerts.json"));
    assert_int_equal(access(path, F_OK), 0);
}

/* A row that is not a checkpoint: a clear error naming tenant and stream, never a fresh start. */
static void corrupt_row_is_an_error(void **state)
{
    (void)state;
    char err[512], path[512];
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    dfw_state_close(st);
    snprintf(path, sizeof(path), "%s/checkpoints.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO checkpoint VALUES ('fabrikam', 'graph-alerts', 0, "
                                  "0, 0, 0, '{\"high_water_ms\": ')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    st = dfw_state_open(dir, 1, err, sizeof(err));
    struct dfw_cursor c;
    dfw_cursor_init(&c, 77);
    assert_int_equal(dfw_state_load(st, "fabrikam", "graph-alerts", &c, err, sizeof(err)),
                     DFW_ERR_INVALID);
    assert_non_null(strstr(err, "tenant fabrikam stream graph-alerts"));
    assert_non_null(strstr(err, "checkpoints.db"));
    assert_int_equal(c.high_water_ms, 77);
    dfw_cursor_clear(&c);
    dfw_state_close(st);
}

/* An empty checkpoints.db is a truncated one, never a new store (SQLite would take it for one and
 * every stream would start again from initial_lookback): the open fails naming it, with or
 * without the lock, and leaves it as it is. A new store is created whole. */
static void empty_database_is_an_error(void **state)
{
    (void)state;
    char err[512], path[512];
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    assert_non_null(st);
    dfw_state_close(st);
    snprintf(path, sizeof(path), "%s/checkpoints.db.new", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/checkpoints.db", dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 0);
    assert_int_equal(truncate(path, 0), 0);
    for (int lock = 1; lock >= 0; lock--) {
        err[0] = '\0';
        assert_null(dfw_state_open(dir, lock, err, sizeof(err)));
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "empty"));
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_size, 0);
    }
}

/* A damaged database: cut short (at a page boundary or inside a page: SQLite would read the rest
 * as zeros and could find no checkpoint where there is one) or garbage. An error naming the file
 * and saying what to do; never "no checkpoint". */
static void damaged_database_is_an_error(void **state)
{
    (void)state;
    char err[512], path[512];
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    struct dfw_cursor c;
    dfw_cursor_init(&c, 1);
    char tenant[32];
    for (int i = 0; i < 400; i++) { /* several pages of rows */
        snprintf(tenant, sizeof(tenant), "tenant-%04d", i);
        assert_int_equal(dfw_state_save(st, tenant, "graph-alerts", &c, err, sizeof(err)), DFW_OK);
    }
    assert_int_equal(dfw_state_commit(st, err, sizeof(err)), DFW_OK);
    dfw_state_close(st); /* the WAL is written back into the database and removed */
    dfw_cursor_clear(&c);
    snprintf(path, sizeof(path), "%s/checkpoints.db", dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size >= 4 * 4096);
    const off_t cuts[] = {sb.st_size - 4096, sb.st_size - 1000, 4096};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_int_equal(truncate(path, cuts[i]), 0);
        for (int lock = 1; lock >= 0; lock--) {
            err[0] = '\0';
            assert_null(dfw_state_open(dir, lock, err, sizeof(err)));
            assert_non_null(strstr(err, path));
            assert_non_null(strstr(err, "truncated"));
        }
    }
    FILE *f = fopen(path, "w");
    fputs("not a database, not even close to one, but long enough to have a header .........\n", f);
    fclose(f);
    assert_null(dfw_state_open(dir, 1, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "damaged"));
}

static void reset_removes_selected(void **state)
{
    (void)state;
    char err[512];
    struct dfw_state *st = dfw_state_open(dir, 1, err, sizeof(err));
    struct dfw_cursor c;
    dfw_cursor_init(&c, 1);
    dfw_state_save(st, "a", "mde-alerts", &c, err, sizeof(err));
    dfw_state_save(st, "a", "graph-alerts", &c, err, sizeof(err));
    dfw_state_save(st, "b", "mde-alerts", &c, err, sizeof(err));
    assert_int_equal(dfw_state_commit(st, err, sizeof(err)), DFW_OK);
    size_t removed = 0;
    assert_int_equal(dfw_state_reset(st, "a", "graph-alerts", &removed, err, sizeof(err)), DFW_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(dfw_state_reset(st, "a", NULL, &removed, err, sizeof(err)), DFW_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(dfw_state_reset(st, NULL, NULL, &removed, err, sizeof(err)), DFW_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(dfw_state_load(st, "b", "mde-alerts", &c, err, sizeof(err)), DFW_ERR_NOTFOUND);
    dfw_cursor_clear(&c);
    dfw_state_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(save_load_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(second_instance_is_locked_out, setup, teardown),
        cmocka_unit_test_setup_teardown(group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(imports_checkpoint_files, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_checkpoint_file_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_row_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_database_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_database_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_removes_selected, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
