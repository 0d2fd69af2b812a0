/* Secrets: files with safe permissions, systemd credentials, environment, atomic rewrite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfw/secret.h"

#define SECRET "s3cr3t-Value~with.chars"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/dfw-secret-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

/* The fixture directory holds files only (and one subdirectory "d" in one test). */
static int teardown(void **state)
{
    struct fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    char p[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s", fx->dir, e->d_name);
        if (unlink(p) != 0) {
            rmdir(p);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(fx->dir);
    free(fx);
    unsetenv("CREDENTIALS_DIRECTORY");
    unsetenv("DFW_TEST_SECRET");
    return 0;
}

static const char *
make_file(struct fixture *fx, const char *name, const char *content, size_t len, mode_t mode)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static dfw_err read_file_ref(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    struct dfw_secret_ref ref = {(char *)(uintptr_t)path, NULL, NULL};
    return dfw_secret_read(&ref, out, len, err, errlen);
}

static void test_file_0600_ok(void **state)
{
    struct fixture *fx = *state;
    const char *path = make_file(fx, "s", SECRET "\r\n\n", strlen(SECRET) + 3, 0600);
    char *out = NULL;
    size_t len = 0;
    char err[512] = "";
    assert_int_equal(read_file_ref(path, &out, &len, err, sizeof(err)), DFW_OK);
    assert_string_equal(out, SECRET);
    assert_int_equal(len, strlen(SECRET));
    dfw_secret_free(out);

    /* 0400 is fine too; len may be NULL; inner newlines (PEM) are kept. */
    const char *pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    path = make_file(fx, "k", pem, strlen(pem), 0400);
    assert_int_equal(read_file_ref(path, &out, NULL, err, sizeof(err)), DFW_OK);
    assert_string_equal(out, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----");
    dfw_secret_free(out);
    dfw_secret_free(NULL);
}

static void test_file_group_readable_refused(void **state)
{
    struct fixture *fx = *state;
    static const mode_t modes[] = {0644, 0640, 0604, 0620, 0601};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        const char *path = make_file(fx, "s", SECRET, strlen(SECRET), modes[i]);
        char *out = (char *)(uintptr_t)1;
        char err[512] = "";
        assert_int_equal(read_file_ref(path, &out, NULL, err, sizeof(err)), DFW_ERR_PERM);
        assert_null(out);
        char want[600];
        snprintf(want, sizeof(want), "%s is %s by group or others (mode %04o); chmod 600 %s", path,
                 (modes[i] & 044) ? "readable" : "accessible", (unsigned int)modes[i], path);
        assert_string_equal(err, want);
        assert_null(strstr(err, SECRET));
        assert_int_equal(dfw_secret_check_file(path, err, sizeof(err)), DFW_ERR_PERM);
    }
}

static void test_not_regular(void **state)
{
    struct fixture *fx = *state;
    char path[512], err[512];
    char *out = NULL;
    snprintf(path, sizeof(path), "%s/d", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(read_file_ref(path, &out, NULL, err, sizeof(err)), DFW_ERR_PERM);
    assert_non_null(strstr(err, "not a regular file"));
    rmdir(path);

    /* A FIFO must be refused without blocking in open(). */
    snprintf(path, sizeof(path), "%s/fifo", fx->dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(read_file_ref(path, &out, NULL, err, sizeof(err)), DFW_ERR_PERM);
    assert_null(out);
}

static void test_symlink_checks_target(void **state)
{
    struct fixture *fx = *state;
    char link[512], err[512];
    char *out = NULL;
    const char *target = make_file(fx, "target", SECRET "\n", strlen(SECRET) + 1, 0600);
    snprintf(link, sizeof(link), "%s/link", fx->dir);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(read_file_ref(link, &out, NULL, err, sizeof(err)), DFW_OK);
    assert_string_equal(out, SECRET);
    dfw_secret_free(out);
    assert_int_equal(chmod(target, 0644), 0);
    assert_int_equal(read_file_ref(link, &out, NULL, err, sizeof(err)), DFW_ERR_PERM);
    assert_int_equal(dfw_secret_check_file(link, err, sizeof(err)), DFW_ERR_PERM);
}

static void test_missing_and_empty(void **state)
{
    struct fixture *fx = *state;
    char path[512], err[512];
    char *out = NULL;
    snprintf(path, sizeof(path), "%s/nope", fx->dir);
    assert_int_equal(read_file_ref(path, &out, NULL, err, sizeof(err)), DFW_ERR_NOTFOUND);
    assert_non_null(strstr(err, path));
    assert_int_equal(dfw_secret_check_file(path, err, sizeof(err)), DFW_ERR_NOTFOUND);

    const char *empty = make_file(fx, "empty", "\r\n", 2, 0600);
    assert_int_equal(read_file_ref(empty, &out, NULL, err, sizeof(err)), DFW_ERR_NOTFOUND);
    assert_non_null(strstr(err, "is empty"));
    assert_null(out);

    const char *nul = make_file(fx, "bin", "ab\0cd", 5, 0600);
    assert_int_equal(read_file_ref(nul, &out, NULL, err, sizeof(err)), DFW_ERR_INVALID);
    assert_null(out);
}

static void test_large_file(void **state)
{
    struct fixture *fx = *state;
    size_t n = 2 * 1024 * 1024;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    const char *path = make_file(fx, "big", big, n, 0600);
    free(big);
    char *out = NULL;
    char err[512];
    assert_int_equal(read_file_ref(path, &out, NULL, err, sizeof(err)), DFW_ERR_INVALID);
    assert_null(out);

    /* Just under the cap still reads (exercises the growing buffer). */
    n = 200 * 1024;
    big = malloc(n);
    assert_non_null(big);
    memset(big, 'y', n);
    path = make_file(fx, "mid", big, n, 0600);
    free(big);
    size_t len = 0;
    assert_int_equal(read_file_ref(path, &out, &len, err, sizeof(err)), DFW_OK);
    assert_int_equal(len, n);
    dfw_secret_free(out);
}

static void test_credential(void **state)
{
    struct fixture *fx = *state;
    make_file(fx, "contoso.secret", SECRET "\n", strlen(SECRET) + 1, 0400);
    struct dfw_secret_ref ref = {NULL, "contoso.secret", NULL};
    char *out = NULL;
    char err[512];

    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(dfw_secret_read(&ref, &out, NULL, err, sizeof(err)), DFW_ERR_NOTFOUND);
    assert_non_null(strstr(err, "$CREDENTIALS_DIRECTORY is not set"));
    assert_non_null(strstr(err, "contoso.secret"));

    setenv("CREDENTIALS_DIRECTORY", fx->dir, 1);
    size_t len = 0;
    assert_int_equal(dfw_secret_read(&ref, &out, &len, err, sizeof(err)), DFW_OK);
    assert_string_equal(out, SECRET);
    assert_int_equal(len, strlen(SECRET));
    dfw_secret_free(out);

    ref.credential = "missing";
    assert_int_equal(dfw_secret_read(&ref, &out, NULL, err, sizeof(err)), DFW_ERR_NOTFOUND);
    ref.credential = "../etc/passwd";
    assert_int_equal(dfw_secret_read(&ref, &out, NULL, err, sizeof(err)), DFW_ERR_CONFIG);

    /* The same permission rule applies inside the credentials directory. */
    make_file(fx, "loose", SECRET, strlen(SECRET), 0644);
    ref.credential = "loose";
    assert_int_equal(dfw_secret_read(&ref, &out, NULL, err, sizeof(err)), DFW_ERR_PERM);
}

static void test_env(void **state)
{
    (void)state;
    struct dfw_secret_ref ref = {NULL, NULL, "DFW_TEST_SECRET"};
    char *out = NULL;
    char err[512];
    unsetenv("DFW_TEST_SECRET");
    assert_int_equal(dfw_secret_read(&ref, &out, NULL, err, sizeof(err)), DFW_ERR_NOTFOUND);
    assert_string_equal(err, "environment variable DFW_TEST_SECRET is not set");

    setenv("DFW_TEST_SECRET", SECRET "\n", 1);
    size_t len;
    assert_int_equal(dfw_secret_read(&ref, &out, &len, err, sizeof(err)), DFW_OK);
    assert_string_equal(out, SECRET);
    assert_int_equal(len, strlen(SECRET));
    dfw_secret_free(out);

    setenv("DFW_TEST_SECRET", "", 1);
    assert_int_equal(dfw_secret_read(&ref, &out, NULL, err, sizeof(err)), DFW_ERR_NOTFOUND);
    assert_string_equal(err, "environment variable DFW_TEST_SECRET is empty");
}

static void test_no_or_two_sources(void **state)
{
    (void)state;
    char *out = NULL;
    char err[512];
    struct dfw_secret_ref none = {NULL, NULL, NULL};
    assert_int_equal(dfw_secret_read(&none, &out, NULL, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_int_equal(dfw_secret_read(NULL, &out, NULL, err, sizeof(err)), DFW_ERR_CONFIG);
    struct dfw_secret_ref two = {"/x", NULL, "Y"};
    assert_int_equal(dfw_secret_read(&two, &out, NULL, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_null(out);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_write_file(void **state)
{
    struct fixture *fx = *state;
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/refresh_token", fx->dir);
    mode_t old = umask(022);

    assert_int_equal(dfw_secret_write_file(path, "first-token", err, sizeof(err)), DFW_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, strlen("first-token"));

    /* Replacing an existing (even loose) file: a new inode with mode 0600, no temp file left. */
    assert_int_equal(chmod(path, 0644), 0);
    ino_t ino = st.st_ino;
    assert_int_equal(dfw_secret_write_file(path, "second-token", err, sizeof(err)), DFW_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_true(st.st_ino != ino);
    assert_int_equal(count_entries(fx->dir), 1);

    char *out = NULL;
    assert_int_equal(read_file_ref(path, &out, NULL, err, sizeof(err)), DFW_OK);
    assert_string_equal(out, "second-token");
    dfw_secret_free(out);

    /* A missing directory fails with the path named and nothing of the secret. */
    snprintf(path, sizeof(path), "%s/no/such/file", fx->dir);
    assert_int_equal(dfw_secret_write_file(path, "third-token", err, sizeof(err)), DFW_ERR_IO);
    assert_non_null(strstr(err, path));
    assert_null(strstr(err, "third-token"));
    assert_int_equal(dfw_secret_write_file(NULL, "x", err, sizeof(err)), DFW_ERR_INVALID);
    umask(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_0600_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_group_readable_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_checks_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_or_two_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
