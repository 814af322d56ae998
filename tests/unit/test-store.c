/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store layer and the record format: transactions, durability across a
 * reopen, prefix iteration, and refusal of malformed records. */

#include "record.h"
#include "store.h"
#include "test-util.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/nexalix-test-store-XXXXXX";

static int count_visit(const void *k, size_t ks, const void *v, size_t vs, void *userdata) {
        (*(int *) userdata)++;
        return 0;
}

static int first_key_visit(const void *k, size_t ks, const void *v, size_t vs, void *userdata) {
        snprintf(userdata, 32, "%.*s", (int) ks, (const char *) k);
        return 1;
}

static void test_transactions(void) {
        store *s = NULL;
        store_txn *t = NULL;
        const void *v;
        size_t n;
        uint64_t count = 0;
        int visited = 0;
        char first[32] = "";

        CHECK_INT(store_open(dir, &s), 0);
        if (!s)
                return;

        CHECK_INT(store_begin(s, true, &t), 0);
        CHECK_INT(store_put(t, TABLE_USERS, "alice", 5, "A", 2, true), 0);
        CHECK_INT(store_put(t, TABLE_USERS, "alice", 5, "B", 2, true), -EEXIST);
        CHECK_INT(store_put(t, TABLE_USERS, "bob", 3, "B", 2, true), 0);
        CHECK_INT(store_put(t, TABLE_LINKED_RECORDS, "alice\0x\0" "1", 9, "", 0, true), 0);
        CHECK_INT(store_put(t, TABLE_LINKED_RECORDS, "alice\0x\0" "2", 9, "", 0, true), 0);
        CHECK_INT(store_put(t, TABLE_LINKED_RECORDS, "alicea\0x\0" "1", 10, "", 0, true), 0);
        CHECK_INT(store_commit(t), 0);

        /* An aborted transaction leaves nothing behind. */
        CHECK_INT(store_begin(s, true, &t), 0);
        CHECK_INT(store_put(t, TABLE_USERS, "carol", 5, "C", 2, true), 0);
        CHECK_INT(store_del(t, TABLE_USERS, "alice", 5), 0);
        store_abort(t);

        CHECK_INT(store_begin(s, false, &t), 0);
        CHECK_INT(store_get(t, TABLE_USERS, "carol", 5, &v, &n), -ENOENT);
        CHECK_INT(store_get(t, TABLE_USERS, "alice", 5, &v, &n), 0);
        CHECK_INT(n, 2);
        CHECK_INT(store_count(t, TABLE_USERS, &count), 0);
        CHECK_INT(count, 2);
        /* The prefix "alice\0" must not match "alicea". */
        CHECK_INT(store_foreach(t, TABLE_LINKED_RECORDS, "alice", 6, false, count_visit, &visited), 0);
        CHECK_INT(visited, 2);
        CHECK_INT(store_foreach(t, TABLE_USERS, NULL, 0, true, first_key_visit, first), 1);
        CHECK_STR(first, "bob");
        CHECK_INT(store_del(t, TABLE_USERS, "nobody", 6), -EACCES);     /* read-only transaction */
        store_abort(t);
        store_close(s);

        /* Committed data survives closing and reopening. */
        s = NULL;
        CHECK_INT(store_open(dir, &s), 0);
        if (!s)
                return;
        CHECK_INT(store_begin(s, false, &t), 0);
        CHECK_INT(store_get(t, TABLE_USERS, "bob", 3, &v, &n), 0);
        CHECK_INT(store_get(t, TABLE_META, "format", 6, &v, &n), 0);
        CHECK_INT(n, 1);
        CHECK_INT(*(const uint8_t *) v, STORE_FORMAT_VERSION);
        store_abort(t);
        store_close(s);
}

static void test_records(void) {
        record_writer w = {};
        record_reader r;

        record_put_u8(&w, 7);
        record_put_u32(&w, 200001);
        record_put_u64(&w, 1234567890123ULL);
        record_put_string(&w, "Jos\xc3\xa9");
        record_put_string(&w, "");
        CHECK_INT(record_writer_error(&w), 0);

        r = record_reader_init(w.data, w.size);
        CHECK_INT(record_get_u8(&r), 7);
        CHECK_INT(record_get_u32(&r), 200001);
        CHECK_INT(record_get_u64(&r), 1234567890123ULL);
        CHECK_STR(record_get_string(&r), "Jos\xc3\xa9");
        CHECK_STR(record_get_string(&r), "");
        CHECK_INT(r.error, 0);
        /* Reading past the end is an error, not a crash. */
        CHECK_INT(record_get_u32(&r), 0);
        CHECK_INT(r.error, -EBADMSG);

        /* Every truncation of a valid record is refused. */
        for (size_t cut = 0; cut < w.size; cut++) {
                r = record_reader_init(w.data, cut);
                record_get_u8(&r);
                record_get_u32(&r);
                record_get_u64(&r);
                record_get_string(&r);
                record_get_string(&r);
                CHECK_INT(r.error, -EBADMSG);
        }

        /* A string whose terminator is missing is refused. */
        w.data[w.size - 1] = 'x';
        r = record_reader_init(w.data, w.size);
        record_get_u8(&r);
        record_get_u32(&r);
        record_get_u64(&r);
        record_get_string(&r);
        CHECK_STR(record_get_string(&r), "");
        CHECK_INT(r.error, -EBADMSG);
        record_writer_done(&w);
}

int main(void) {
        char cmd[128];

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        test_transactions();
        test_records();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return test_result("test-store");
}
