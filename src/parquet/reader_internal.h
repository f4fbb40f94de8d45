/*
** Internal accessors shared inside the parquet module: the metadata view
** (meta_view.c) reads the parsed footer of an open reader (reader.c).
*/
#ifndef ST_PARQUET_READER_INTERNAL_H
#define ST_PARQUET_READER_INTERNAL_H

#include "parquet/meta.h"

const st_pq_file_meta *st_pq_reader_meta(const st_pq_reader *r);
const struct st_pq_schema *st_pq_reader_schema(const st_pq_reader *r);

#endif
