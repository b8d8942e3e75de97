#include <stdio.h>
#include "CStdio.h"

void canopy_line_buffer_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}
