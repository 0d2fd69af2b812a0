/* main() for the gcc builds: run every input file named on the command line, or found in a
 * directory named there, through LLVMFuzzerTestOneInput once. An invariant failure aborts, so
 * ctest reports the input (printed first) as failing. */
#include "fuzz.h"

#include <dirent.h>
#include <sys/stat.h>

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        exit(2);
    }
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(data, cap);
            if (p == NULL) {
                abort();
            }
            data = p;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    fclose(f);
    fprintf(stderr, "replay: %s\n", path);
    /* an exact-size copy, so ASan sees reads past the input as libFuzzer would */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        abort();
    }
    if (len > 0) {
        memcpy(exact, data, len);
    }
    free(data);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
}

int main(int argc, char **argv)
{
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            continue; /* a target without regression inputs has no directory */
        }
        if (!S_ISDIR(st.st_mode)) {
            run_file(argv[i]);
            count++;
            continue;
        }
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, by_name);
        for (int k = 0; k < n; k++) {
            if (names[k]->d_name[0] != '.') {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
                run_file(path);
                count++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %zu inputs\n", count);
    return count > 0 ? 0 : 1;
}
