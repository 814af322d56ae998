/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading the generation counter (RUNTIME/nss.gen) through a shared mapping. */
#include "snapshot-format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct snapshot_generation_map {
        void *map;
        dev_t dev;
        ino_t ino;
};

int snapshot_generation_map_open(const char *path, snapshot_generation_map **ret) {
        snapshot_generation_map *m;
        struct stat st;
        void *map;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode) || st.st_size < GEN_FILE_SIZE) {
                close(fd);
                return -EBADMSG;
        }
        map = mmap(NULL, GEN_FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
        r = -errno;
        /* The mapping keeps the file; the descriptor is not needed. */
        close(fd);
        if (map == MAP_FAILED)
                return r;
        if (!snapshot_gen_file_valid(map)) {
                munmap(map, GEN_FILE_SIZE);
                return -EBADMSG;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                munmap(map, GEN_FILE_SIZE);
                return -ENOMEM;
        }
        m->map = map;
        m->dev = st.st_dev;
        m->ino = st.st_ino;
        *ret = m;
        return 0;
}

snapshot_generation_map *snapshot_generation_map_close(snapshot_generation_map *m) {
        if (!m)
                return NULL;
        munmap(m->map, GEN_FILE_SIZE);
        free(m);
        return NULL;
}

uint64_t snapshot_generation_map_read(const snapshot_generation_map *m) {
        return __atomic_load_n(snapshot_gen_counter(m->map), __ATOMIC_ACQUIRE);
}

void snapshot_generation_map_get_file_id(const snapshot_generation_map *m,
                                         dev_t *ret_dev, ino_t *ret_ino) {
        if (ret_dev)
                *ret_dev = m->dev;
        if (ret_ino)
                *ret_ino = m->ino;
}
