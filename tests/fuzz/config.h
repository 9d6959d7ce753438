/* config.h -- what configure would say, for the fuzz harnesses built outside the build tree. */
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "fuzz"
#endif
