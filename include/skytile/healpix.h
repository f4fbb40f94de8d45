/*
** skytile/healpix.h — HEALPix (NESTED scheme) for orders 0..29.
** (The module owner fills this in.)
*/
#ifndef SKYTILE_HEALPIX_H
#define SKYTILE_HEALPIX_H
#endif
