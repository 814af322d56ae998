/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A QR code drawn as text, for a terminal: two rows of modules per line with
 * the UTF-8 half blocks (▀ ▄ █ and space), inside the four-module quiet zone
 * the standard asks for. Colours are set explicitly (black on white, ANSI)
 * so that the code reads the same on a dark and on a light terminal — a
 * code drawn in the terminal's own colours comes out inverted on one of
 * them, which many phone cameras do not read. Shared by nexalixctl (`2fa
 * enable`) and nexalixd (enrolment inside a login). */


typedef enum qr_style {
        QR_ANSI,                /* black on white, set with ANSI colours: right on any terminal */
        QR_DARK_ON_LIGHT,       /* the glyphs are the dark modules: right on a light background, on paper */
        QR_LIGHT_ON_DARK,       /* the glyphs are the light modules: right on a dark background */
} qr_style;

/* Encodes text (error correction M) and returns the drawing, lines ending
 * in "\n", allocated. The plain styles are for where escape sequences do
 * not reach a terminal (output to a file; an SSH client shows the escapes
 * of a keyboard-interactive prompt as text). -ENOMEM, -EINVAL (too long). */
int qr_text(const char *text, qr_style style, char **ret);
