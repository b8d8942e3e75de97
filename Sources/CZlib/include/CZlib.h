#ifndef CANOPY_CZLIB_H
#define CANOPY_CZLIB_H

#include <zlib.h>

// zlib's init functions are macros, which Swift cannot call; these wrap them.

static inline int canopy_deflate_init(z_streamp stream, int level) {
    return deflateInit(stream, level);
}

static inline int canopy_inflate_init(z_streamp stream) {
    return inflateInit(stream);
}

#endif
