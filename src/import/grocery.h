/* grocery.h: the Grocery Store data set (classes.csv + iconic images and descriptions) as
 * a catalogue for the importer: its 81 products, one per class, as `make demo`'s
 * scripts/grocery_catalogue.py writes them, for `visor serve --demo DIR`. */
#ifndef VISOR_IMPORT_GROCERY_H
#define VISOR_IMPORT_GROCERY_H

#include "import/catalogue_file.h"

/* Fills file from dataset_dir/classes.csv (image paths absolute). VISOR_ERR_INVALID when
 * the folder has no readable classes.csv. */
visor_code visor_grocery_catalogue(const char *dataset_dir, visor_catalogue_file *file,
                                   visor_error *err);

#endif
