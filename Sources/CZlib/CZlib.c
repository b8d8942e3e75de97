// The target's code is all in include/CZlib.h; SwiftPM wants one source file.
#include "CZlib.h"
