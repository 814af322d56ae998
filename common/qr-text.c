/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qr-text.h"

#include <errno.h>
#include <qrencode.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#define QUIET_ZONE 4

/* Black on white, and back to the terminal's colours. */
#define ANSI_ON "\033[30;47m"
#define ANSI_OFF "\033[0m"

static bool dark(const QRcode *q, int x, int y) {
        x -= QUIET_ZONE;
        y -= QUIET_ZONE;
        if (x < 0 || y < 0 || x >= q->width || y >= q->width)
                return false;
        return q->data[y * q->width + x] & 1;
}

int qr_text(const char *text, qr_style style, char **ret) {
        bool ansi = style == QR_ANSI, invert = style == QR_LIGHT_ON_DARK;
        QRcode *q;
        char *out, *p;
        int size;
        size_t line_max, total;

        q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
        if (!q)
                return errno == ENOMEM ? -ENOMEM : -EINVAL;
        size = q->width + 2 * QUIET_ZONE;
        /* Each cell at most 3 bytes of UTF-8; the colour codes; "\n". */
        line_max = (size_t) size * 3 + strlen(ANSI_ON) + strlen(ANSI_OFF) + 1;
        total = line_max * (size_t) ((size + 1) / 2) + 1;
        out = p = malloc(total);
        if (!out) {
                QRcode_free(q);
                return -ENOMEM;
        }
        for (int y = 0; y < size; y += 2) {
                if (ansi)
                        p = stpcpy(p, ANSI_ON);
                for (int x = 0; x < size; x++) {
                        bool top = dark(q, x, y) != invert,
                             bottom = y + 1 < size ? dark(q, x, y + 1) != invert : invert;
                        /* The glyph draws in the foreground colour (black
                         * with ansi): it marks the dark modules, or the
                         * light ones where the foreground is light. */
                        p = stpcpy(p, top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ");
                }
                if (ansi)
                        p = stpcpy(p, ANSI_OFF);
                *p++ = '\n';
        }
        *p = 0;
        QRcode_free(q);
        *ret = out;
        return 0;
}
