/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The snapshot's on-disk format: what the reader (snapshot-reader.c, linked
 * into the NSS module) and the writer (snapshot-writer.c, the daemon only)
 * must agree on. Internal to common/. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snapshot.h"

/* The on-disk format (docs/nss.md has the same in prose). The base and the
 * delta are each one LMDB environment in a single file, with these named
 * databases:
 *
 *   meta           "format" -> u32 SNAPSHOT_FORMAT_VERSION
 *                  "generation" -> u64, "users" -> u64, "groups" -> u64
 *                  (the delta: "format", "generation", and "base" -> u64,
 *                  the generation of the base it applies to)
 *   passwd.byuid   u32 uid (MDB_INTEGERKEY) -> user record
 *   passwd.byname  name -> user record (the same bytes)
 *   group.bygid    u32 gid (MDB_INTEGERKEY) -> group record
 *   group.byname   name -> u32 gid
 *   initgroups     name -> u32 gids, ascending (member names that are not
 *                  users of this snapshot only)
 *
 * user record:  u32 uid, u32 gid, u32 flags, u32 n, u16 length of each of
 *               name, gecos, home, shell, n u32 supplementary gids
 *               (ascending), "name\0gecos\0home\0shell\0"
 * group record: u32 gid, u32 member count, "name\0", "member\0" * count
 *
 * Lookups by uid and by name each take one B-tree descent: the user record
 * is stored under both keys. Two more things live in it, to halve the
 * number of entries, which is what publication time is made of: the user's
 * supplementary groups (the initgroups answer), and the user's private
 * group. A group with the user's name, gid = uid = the user's primary gid and
 * no members is not written to group.*; the user record carries
 * USER_PRIVATE_GROUP instead and readers answer for the group from it.
 *
 * The delta holds, in the same databases, the entries that changed since its
 * base, whole; an empty value means the entry is gone. Readers ask the delta
 * first. A whole publication renames the new base into place first, then
 * bumps the counter; the delta that was there applies to the old base and is
 * ignored from then on (its generation is older than the base's).
 *
 * Integers are native-endian: the files live in /run and are read only on
 * the machine that wrote them. LMDB aligns values to 2 bytes only, so integers are
 * read with memcpy. */

#define DB_META "meta"
#define DB_USER_BYID "passwd.byuid"
#define DB_USER_BYNAME "passwd.byname"
#define DB_GROUP_BYID "group.bygid"
#define DB_GROUP_BYNAME "group.byname"
#define DB_INITGROUPS "initgroups"
#define SNAPSHOT_MAX_DBS 8

#define META_FORMAT "format"
#define META_GENERATION "generation"
#define META_USERS "users"
#define META_GROUPS "groups"
#define META_BASE "base"

#define USER_HEADER_SIZE 24
/* Each string of a user record is shorter than this (the u16 lengths). */
#define USER_FIELD_MAX 65535
#define GROUP_HEADER_SIZE 8
#define USER_PRIVATE_GROUP 0x1u
/* LMDB's default maximum key size. */
#define KEY_MAX 511

#define GEN_MAGIC "NXSNGEN1"
#define GEN_MAGIC_SIZE 8
#define GEN_FILE_SIZE 16

#define TMP_PREFIX ".nss.mdb."


/* The generation counter file: the magic, then the counter. */
static inline int snapshot_gen_file_valid(const void *map) {
        return memcmp(map, GEN_MAGIC, GEN_MAGIC_SIZE) == 0;
}
static inline uint64_t *snapshot_gen_counter(void *map) {
        return (uint64_t *) ((char *) map + GEN_MAGIC_SIZE);
}

/* A native-endian u32 at any alignment (LMDB aligns values to 2 bytes). */
uint32_t snapshot_read_u32(const void *p);

/* A user or group record of the tables above, checked bound by bound: 0 and
 * a view into data, or -EBADMSG. */
int snapshot_parse_user(const void *data, size_t size, snapshot_user *ret);
int snapshot_parse_group(const void *data, size_t size, snapshot_group *ret);

/* The private group a user record stands for. */
void snapshot_private_group_of(const snapshot_user *u, snapshot_group *ret);
