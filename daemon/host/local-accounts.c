/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "local-accounts.h"
#include "log.h"
#include "macro.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct file_state {
        char *path;
        struct timespec mtime;
        off_t size;
        ino_t inode;
} file_state;

enum { FILE_PASSWD, FILE_GROUP, FILE_SUBUID, FILE_SUBGID, _FILE_MAX };

typedef struct id_range {
        uint32_t start, count;
} id_range;

struct local_accounts {
        file_state files[_FILE_MAX];    /* path NULL: not used */
        char **names;           /* sorted */
        size_t n_names;
        uint32_t *ids;          /* sorted */
        size_t n_ids;
        id_range *ranges;
        size_t n_ranges;
        uint64_t generation;
};

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* getline() returns -1 at the end of the file and on a read error alike (a
 * directory gives EISDIR): an error must fail the load, never pass for an
 * empty file that lets every local name and id through. */
static int finish_file(FILE *f) {
        int r = ferror(f) ? (errno > 0 ? -errno : -EIO) : 0;

        fclose(f);
        return r;
}

static void clear_lists(local_accounts *l) {
        for (size_t i = 0; i < l->n_names; i++)
                free(l->names[i]);
        free(l->names);
        free(l->ids);
        free(l->ranges);
        l->names = NULL;
        l->ids = NULL;
        l->ranges = NULL;
        l->n_names = l->n_ids = l->n_ranges = 0;
}

/* Reads "name:x:id:..." lines: the first and third field are what matter for
 * both passwd and group. Malformed lines are skipped as the files module does. */
static int read_file(local_accounts *l, const char *path, size_t *names_cap, size_t *ids_cap) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return errno == ENOENT ? 0 : -errno;

        while (getline(&line, &size, f) >= 0) {
                char *colon1 = strchr(line, ':'), *colon2, *end;
                unsigned long id;

                if (!colon1 || colon1 == line || line[0] == '#' || line[0] == '+' || line[0] == '-')
                        continue;
                colon2 = strchr(colon1 + 1, ':');
                if (!colon2)
                        continue;
                errno = 0;
                id = strtoul(colon2 + 1, &end, 10);
                if (errno || end == colon2 + 1 || *end != ':' || id > UINT32_MAX)
                        continue;

                if (ARRAY_RESERVE(l->names, *names_cap, l->n_names + 1) < 0 ||
                    ARRAY_RESERVE(l->ids, *ids_cap, l->n_ids + 1) < 0)
                        goto oom;
                l->names[l->n_names] = strndup(line, (size_t) (colon1 - line));
                if (!l->names[l->n_names])
                        goto oom;
                l->n_names++;
                l->ids[l->n_ids++] = (uint32_t) id;
        }
        return finish_file(f);
oom:
        fclose(f);
        return -ENOMEM;
}

/* Reads "owner:start:count" lines of /etc/subuid or /etc/subgid. */
static int read_ranges(local_accounts *l, const char *path, size_t *ranges_cap) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (getline(&line, &size, f) >= 0) {
                unsigned long start, count;
                char *p = strchr(line, ':'), *end;

                /* Both numbers must be all digits, as shadow's own parser
                 * wants them: strtoul() would take an empty start for 0 and
                 * ignore what follows the count. */
                if (!p || p == line || line[0] == '#' || !isdigit((unsigned char) p[1]))
                        continue;
                errno = 0;
                start = strtoul(p + 1, &end, 10);
                if (errno || *end != ':' || start > UINT32_MAX || !isdigit((unsigned char) end[1]))
                        continue;
                count = strtoul(end + 1, &end, 10);
                if (errno || count == 0 || count > UINT32_MAX || (*end != '\n' && *end != '\0'))
                        continue;
                if (ARRAY_RESERVE(l->ranges, *ranges_cap, l->n_ranges + 1) < 0) {
                        fclose(f);
                        return -ENOMEM;
                }
                l->ranges[l->n_ranges++] = (id_range) { (uint32_t) start, (uint32_t) count };
        }
        return finish_file(f);
}

/* Reads every file into fresh lists and swaps them in only when all were
 * read: on an error the previous lists stay and the files are read again at
 * the next refresh, so a passing failure never lets an id or name through. */
static int load(local_accounts *l) {
        local_accounts fresh = {};
        file_state seen[_FILE_MAX] = {};
        size_t names_cap = 0, ids_cap = 0, ranges_cap = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < _FILE_MAX; i++) {
                struct stat st;

                if (!l->files[i].path)
                        continue;
                if (stat(l->files[i].path, &st) == 0) {
                        seen[i].mtime = st.st_mtim;
                        seen[i].size = st.st_size;
                        seen[i].inode = st.st_ino;
                }
                if (i == FILE_SUBUID || i == FILE_SUBGID)
                        r = read_ranges(&fresh, l->files[i].path, &ranges_cap);
                else
                        r = read_file(&fresh, l->files[i].path, &names_cap, &ids_cap);
                if (r < 0)
                        log_error_errno(r, "Failed to read %s: %m", l->files[i].path);
        }
        if (r < 0) {
                clear_lists(&fresh);
                return r;
        }

        clear_lists(l);
        l->names = fresh.names;
        l->n_names = fresh.n_names;
        l->ids = fresh.ids;
        l->n_ids = fresh.n_ids;
        l->ranges = fresh.ranges;
        l->n_ranges = fresh.n_ranges;
        for (size_t i = 0; i < _FILE_MAX; i++) {
                seen[i].path = l->files[i].path;
                l->files[i] = seen[i];
        }
        if (l->n_names)
                qsort(l->names, l->n_names, sizeof(char *), cmp_str);
        if (l->n_ids)
                qsort(l->ids, l->n_ids, sizeof(uint32_t), cmp_u32);
        l->generation++;
        return 0;
}

int local_accounts_new(const local_accounts_paths *paths, local_accounts **ret) {
        const char *p[_FILE_MAX] = { paths->passwd, paths->group, paths->subuid, paths->subgid };
        local_accounts *l = calloc(1, sizeof(*l));
        int r;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < _FILE_MAX; i++)
                if (p[i] && !(l->files[i].path = strdup(p[i]))) {
                        local_accounts_free(l);
                        return -ENOMEM;
                }
        r = load(l);
        if (r < 0) {
                local_accounts_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

local_accounts *local_accounts_free(local_accounts *l) {
        if (!l)
                return NULL;
        clear_lists(l);
        for (size_t i = 0; i < _FILE_MAX; i++)
                free(l->files[i].path);
        free(l);
        return NULL;
}

int local_accounts_refresh(local_accounts *l) {
        for (size_t i = 0; i < _FILE_MAX; i++) {
                struct stat st;

                if (!l->files[i].path)
                        continue;
                /* load() records a file it could not stat as all zeroes; one
                 * that is gone now differs from what was read, and its
                 * entries must go with it. */
                if (stat(l->files[i].path, &st) < 0)
                        st = (struct stat) {};
                if (st.st_mtim.tv_sec != l->files[i].mtime.tv_sec ||
                    st.st_mtim.tv_nsec != l->files[i].mtime.tv_nsec ||
                    st.st_size != l->files[i].size || st.st_ino != l->files[i].inode)
                        return load(l);
        }
        return 0;
}

uint64_t local_accounts_generation(const local_accounts *l) {
        return l->generation;
}

bool local_accounts_has_name(const local_accounts *l, const char *name) {
        return l->n_names && bsearch(&name, l->names, l->n_names, sizeof(char *), cmp_str);
}

bool local_accounts_has_id(const local_accounts *l, uint32_t id) {
        return l->n_ids && bsearch(&id, l->ids, l->n_ids, sizeof(uint32_t), cmp_u32);
}

bool local_accounts_in_subordinate_range(const local_accounts *l, uint32_t id) {
        for (size_t i = 0; i < l->n_ranges; i++)
                if (id >= l->ranges[i].start && id - l->ranges[i].start < l->ranges[i].count)
                        return true;
        return false;
}
