/*
** skytile/parquet_meta.h — Parquet metadata views: row groups, column chunks,
** codecs, encodings, sizes and statistics, for inspection (`skytile parquet
** meta`) and for pruning row groups before reading.
** (Owned by the metadata module; included by skytile/parquet.h.)
*/
#ifndef SKYTILE_PARQUET_META_H
#define SKYTILE_PARQUET_META_H
#endif
