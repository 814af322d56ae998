/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "snapshot-format.h"

#include <errno.h>
#include <string.h>

uint32_t snapshot_read_u32(const void *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

int snapshot_parse_user(const void *data, size_t size, snapshot_user *ret) {
        const char *p = data;
        snapshot_user u;
        uint32_t flags, n_gids;
        uint16_t lens[4];
        size_t strings;

        if (size < USER_HEADER_SIZE + 4)
                return -EBADMSG;
        u.uid = snapshot_read_u32(p);
        u.gid = snapshot_read_u32(p + 4);
        flags = snapshot_read_u32(p + 8);
        n_gids = snapshot_read_u32(p + 12);
        memcpy(lens, p + 16, sizeof(lens));
        strings = (size_t) lens[0] + lens[1] + lens[2] + lens[3] + 4;
        if (n_gids > (size - USER_HEADER_SIZE) / sizeof(uint32_t) ||
            USER_HEADER_SIZE + (size_t) n_gids * sizeof(uint32_t) + strings != size ||
            lens[0] == 0)
                return -EBADMSG;
        p += USER_HEADER_SIZE;
        u.private_group = flags & USER_PRIVATE_GROUP;
        u.n_gids = n_gids;
        u.gids = n_gids > 0 ? p : NULL;
        p += (size_t) n_gids * sizeof(uint32_t);

        /* The lengths make this O(1); the terminators are checked, so every
         * string is what its length says and a damaged record is refused. */
        u.name = p, u.name_len = lens[0], p += lens[0] + 1;
        u.gecos = p, u.gecos_len = lens[1], p += lens[1] + 1;
        u.home = p, u.home_len = lens[2], p += lens[2] + 1;
        u.shell = p, u.shell_len = lens[3];
        u.strings_size = strings;
        if (u.name[u.name_len] != 0 || u.gecos[u.gecos_len] != 0 ||
            u.home[u.home_len] != 0 || u.shell[u.shell_len] != 0 ||
            memchr(u.name, 0, u.name_len))
                return -EBADMSG;
        *ret = u;
        return 0;
}

void snapshot_private_group_of(const snapshot_user *u, snapshot_group *ret) {
        *ret = (snapshot_group) {
                .gid = u->uid,
                .name = u->name,
                .name_len = u->name_len,
        };
}

int snapshot_parse_group(const void *data, size_t size, snapshot_group *ret) {
        const char *p = data, *end = p + size, *nul;
        snapshot_group g;
        size_t count = 0;

        if (size < GROUP_HEADER_SIZE + 2)
                return -EBADMSG;
        g.gid = snapshot_read_u32(p);
        g.n_members = snapshot_read_u32(p + 4);
        p += GROUP_HEADER_SIZE;

        nul = memchr(p, 0, (size_t) (end - p));
        if (!nul || nul == p)
                return -EBADMSG;
        g.name = p;
        g.name_len = (size_t) (nul - p);
        p = nul + 1;

        g.members = p < end ? p : NULL;
        g.members_size = (size_t) (end - p);
        /* Count the members now so that the caller can trust n_members when
         * it sizes its pointer array and walks the block. */
        while (p < end) {
                nul = memchr(p, 0, (size_t) (end - p));
                if (!nul || nul == p)
                        return -EBADMSG;
                count++;
                p = nul + 1;
        }
        if (count != g.n_members)
                return -EBADMSG;
        *ret = g;
        return 0;
}
