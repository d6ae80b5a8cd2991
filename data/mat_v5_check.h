// A structural check of a MATLAB v5 .mat file before libmatio reads it: every element's declared
// size fits in what the file holds (for compressed elements, in what zlib can expand the stored
// bytes to), and every array's name and dimensions fit in its element. libmatio trusts these
// fields and allocates what they say, so a corrupt file could otherwise ask for gigabytes.
// Files in other layouts (v4, v7.3/HDF5) are left to libmatio.
#pragma once

#include <string>

namespace nsal::data {

// Throws DataError naming `path`, the byte offset and the field.
void check_mat_v5_layout(const std::string& path);

}  // namespace nsal::data
