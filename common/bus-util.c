/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "bus-util.h"
#include "macro.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_dict_open(DBusMessageIter *parent, DBusMessageIter *ret_dict) {
        return dbus_message_iter_open_container(parent, DBUS_TYPE_ARRAY, "{sv}", ret_dict) ? 0 : -ENOMEM;
}

int bus_dict_close(DBusMessageIter *parent, DBusMessageIter *dict) {
        return dbus_message_iter_close_container(parent, dict) ? 0 : -ENOMEM;
}

/* Opens "{s v(sig)}" and hands back the variant iterator. */
static int entry_open(DBusMessageIter *dict, const char *key, const char *sig,
                      DBusMessageIter *entry, DBusMessageIter *variant) {
        if (!dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, entry))
                return -ENOMEM;
        if (!dbus_message_iter_append_basic(entry, DBUS_TYPE_STRING, &key) ||
            !dbus_message_iter_open_container(entry, DBUS_TYPE_VARIANT, sig, variant)) {
                dbus_message_iter_abandon_container(dict, entry);
                return -ENOMEM;
        }
        return 0;
}

static int entry_close(DBusMessageIter *dict, DBusMessageIter *entry, DBusMessageIter *variant) {
        if (!dbus_message_iter_close_container(entry, variant))
                return -ENOMEM;
        return dbus_message_iter_close_container(dict, entry) ? 0 : -ENOMEM;
}

static int dict_add_basic(DBusMessageIter *dict, const char *key, int type, const void *value) {
        DBusMessageIter entry, variant;
        char sig[2] = { (char) type, 0 };
        int r = entry_open(dict, key, sig, &entry, &variant);
        if (r < 0)
                return r;
        if (!dbus_message_iter_append_basic(&variant, type, value))
                return -ENOMEM;
        return entry_close(dict, &entry, &variant);
}

int bus_dict_add_string(DBusMessageIter *dict, const char *key, const char *value) {
        const char *v = strempty(value);
        return dict_add_basic(dict, key, DBUS_TYPE_STRING, &v);
}

int bus_dict_add_uint32(DBusMessageIter *dict, const char *key, uint32_t value) {
        dbus_uint32_t v = value;
        return dict_add_basic(dict, key, DBUS_TYPE_UINT32, &v);
}

int bus_dict_add_uint64(DBusMessageIter *dict, const char *key, uint64_t value) {
        dbus_uint64_t v = value;
        return dict_add_basic(dict, key, DBUS_TYPE_UINT64, &v);
}

int bus_dict_add_bool(DBusMessageIter *dict, const char *key, bool value) {
        dbus_bool_t v = value;
        return dict_add_basic(dict, key, DBUS_TYPE_BOOLEAN, &v);
}

int bus_dict_add_strv(DBusMessageIter *dict, const char *key, char *const *values) {
        DBusMessageIter entry, variant, array;
        int r = entry_open(dict, key, "as", &entry, &variant);
        if (r < 0)
                return r;
        if (!dbus_message_iter_open_container(&variant, DBUS_TYPE_ARRAY, "s", &array))
                return -ENOMEM;
        for (char *const *i = values; i && *i; i++)
                if (!dbus_message_iter_append_basic(&array, DBUS_TYPE_STRING, i))
                        return -ENOMEM;
        if (!dbus_message_iter_close_container(&variant, &array))
                return -ENOMEM;
        return entry_close(dict, &entry, &variant);
}

int bus_read_strv(DBusMessageIter *iter, size_t max, char ***ret) {
        DBusMessageIter array;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0, allocated = 0;

        if (dbus_message_iter_get_arg_type(iter) != DBUS_TYPE_ARRAY ||
            dbus_message_iter_get_element_type(iter) != DBUS_TYPE_STRING)
                return -EINVAL;
        if (ARRAY_RESERVE(l, allocated, 1) < 0)
                return -ENOMEM;
        l[0] = NULL;
        dbus_message_iter_recurse(iter, &array);
        while (dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_STRING) {
                const char *s;

                /* Stop at the cap: a caller must not make us copy an array
                 * far larger than anything valid. */
                if (n >= max)
                        return -E2BIG;
                dbus_message_iter_get_basic(&array, &s);
                if (ARRAY_RESERVE(l, allocated, n + 2) < 0)
                        return -ENOMEM;
                l[n] = strdup(s);
                if (!l[n])
                        return -ENOMEM;
                l[++n] = NULL;
                dbus_message_iter_next(&array);
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int type_of(char t) {
        switch (t) {
        case 's': return DBUS_TYPE_STRING;
        case 'u': return DBUS_TYPE_UINT32;
        case 't': return DBUS_TYPE_UINT64;
        case 'b': return DBUS_TYPE_BOOLEAN;
        case 'a': return DBUS_TYPE_ARRAY;
        default: return DBUS_TYPE_INVALID;
        }
}

int bus_dict_read(DBusMessageIter *iter, const bus_dict_field *fields, bool strict,
                  const char **ret_bad_key) {
        DBusMessageIter array;

        if (dbus_message_iter_get_arg_type(iter) != DBUS_TYPE_ARRAY ||
            dbus_message_iter_get_element_type(iter) != DBUS_TYPE_DICT_ENTRY)
                return -EINVAL;

        dbus_message_iter_recurse(iter, &array);
        for (; dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_DICT_ENTRY;
             dbus_message_iter_next(&array)) {
                DBusMessageIter entry, variant;
                const bus_dict_field *f;
                const char *key;

                dbus_message_iter_recurse(&array, &entry);
                if (dbus_message_iter_get_arg_type(&entry) != DBUS_TYPE_STRING)
                        return -EINVAL;
                dbus_message_iter_get_basic(&entry, &key);
                dbus_message_iter_next(&entry);
                if (dbus_message_iter_get_arg_type(&entry) != DBUS_TYPE_VARIANT)
                        return -EINVAL;
                dbus_message_iter_recurse(&entry, &variant);

                for (f = fields; f->key; f++)
                        if (strcmp(f->key, key) == 0)
                                break;
                if (!f->key || dbus_message_iter_get_arg_type(&variant) != type_of(f->type)) {
                        if (!strict)
                                continue;
                        if (ret_bad_key)
                                *ret_bad_key = key;
                        return -EINVAL;
                }

                switch (f->type) {
                case 's':
                        dbus_message_iter_get_basic(&variant, (const char **) f->value);
                        break;
                case 'u': {
                        dbus_uint32_t v;
                        dbus_message_iter_get_basic(&variant, &v);
                        *(uint32_t *) f->value = v;
                        break;
                }
                case 't': {
                        dbus_uint64_t v;
                        dbus_message_iter_get_basic(&variant, &v);
                        *(uint64_t *) f->value = v;
                        break;
                }
                case 'b': {
                        dbus_bool_t v;
                        dbus_message_iter_get_basic(&variant, &v);
                        *(bool *) f->value = v;
                        break;
                }
                case 'a': {
                        char **l;
                        int r = bus_read_strv(&variant, f->max_items, &l);
                        if (r == -EINVAL || r == -E2BIG) {
                                if (!strict)
                                        continue;
                                if (ret_bad_key)
                                        *ret_bad_key = key;
                        }
                        if (r < 0)
                                return r;
                        strv_free(*(char ***) f->value);
                        *(char ***) f->value = l;
                        break;
                }
                }
                if (f->present)
                        *f->present = true;
        }
        return 0;
}
