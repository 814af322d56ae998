/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* data/org.nexalix.Identity1.xml, the API contract, generated into the
 * daemon at build time (gen-introspection.py). */
extern const char introspection_xml[];
