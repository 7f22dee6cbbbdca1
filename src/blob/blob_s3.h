/* blob_s3.h: what only the S3 object store has, beyond visor_blob_ops: the multipart
 * uploads left pending in the bucket (a crashed writer leaves one; S3 keeps its parts until
 * it is aborted), to count them and to abort them. */
#ifndef VISOR_BLOB_BLOB_S3_H
#define VISOR_BLOB_BLOB_S3_H

#include <stddef.h>

#include "blob/blob.h"

/* The store was opened from an s3:// URL. */
int visor_blob_is_s3(const visor_blob_store *store);

/* Counts the multipart uploads pending under prefix ("" = all). VISOR_ERR_INVALID when the
 * store is not S3. */
visor_code visor_blob_s3_pending_uploads(visor_blob_store *store, const char *prefix, size_t *count,
                                         visor_error *err);

/* Aborts every multipart upload pending under prefix (only safe when no writer is running
 * there); *aborted gets how many. */
visor_code visor_blob_s3_abort_uploads(visor_blob_store *store, const char *prefix, size_t *aborted,
                                       visor_error *err);

#endif
