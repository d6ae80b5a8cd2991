# Dependencies come from Debian's packages (scripts/install-deps.sh installs them).
#
# Core (nsal_kernels, nsal_nn and the GPU tests): OpenMP, fmt, HDF5, OpenBLAS (+ CUDA/cuDNN for
# the GPU backend). Everything else serves data/, al/ and the `nsal` app. On a machine without
# those (a bare GPU box), configure with -DNSAL_ALLOW_PARTIAL=ON to build only the core, its GPU
# tests and the kernel benchmarks; header-only packages can also be carried in from another
# machine into shared-deps/include (scripts/gpu_carry.sh) and are then used in header-only mode.
option(NSAL_ALLOW_PARTIAL
       "Build only the core (kernels, nn, GPU tests, kernel benchmarks) when optional dependencies are missing, instead of failing"
       OFF)
set(NSAL_CARRY_DIR "${CMAKE_SOURCE_DIR}/shared-deps" CACHE PATH
    "Carried headers (scripts/gpu_carry.sh), used for packages this machine lacks")
set(NSAL_MISSING_DEPS "")

# Makes `target` an interface target over the carried copy of a header-only package.
function(nsal_use_carried target header)
  if(TARGET ${target} OR NOT EXISTS "${NSAL_CARRY_DIR}/include/${header}")
    return()
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  target_include_directories(${target} INTERFACE "${NSAL_CARRY_DIR}/include")
  if(ARGN)
    target_compile_definitions(${target} INTERFACE ${ARGN})
  endif()
  message(STATUS "nsal: using the carried ${header} (${NSAL_CARRY_DIR}/include)")
endfunction()

# find_package(name) or the carried headers; records the package as missing when neither works.
macro(nsal_optional_package name target header)
  find_package(${name} QUIET)
  nsal_use_carried(${target} ${header} ${ARGN})
  if(NOT TARGET ${target})
    list(APPEND NSAL_MISSING_DEPS ${name})
  endif()
endmacro()

# ---- core ----
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(fmt QUIET)
nsal_use_carried(fmt::fmt fmt/format.h FMT_HEADER_ONLY=1)
if(NOT TARGET fmt::fmt)
  message(FATAL_ERROR "fmt not found: install libfmt-dev, or carry its headers into "
                      "${NSAL_CARRY_DIR}/include (scripts/gpu_carry.sh)")
endif()

# OpenBLAS, preferably the OpenMP build: called inside our own OpenMP regions it runs on one
# thread, outside them it uses them all, so the two never oversubscribe the cores. Other builds
# (pthread, generic) are accepted with a warning.
set(NSAL_OPENBLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-openmp" CACHE PATH
    "Folder holding the OpenMP build of OpenBLAS")
find_library(NSAL_OPENBLAS_LIB NAMES openblas PATHS ${NSAL_OPENBLAS_DIR} NO_DEFAULT_PATH)
find_path(NSAL_CBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp
          NO_DEFAULT_PATH)
if(NOT NSAL_OPENBLAS_LIB OR NOT NSAL_CBLAS_INCLUDE)
  find_library(NSAL_OPENBLAS_LIB NAMES openblas
               PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/x86_64-linux-gnu)
  find_path(NSAL_CBLAS_INCLUDE cblas.h
            PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas
                  /usr/include/x86_64-linux-gnu)
  if(NSAL_OPENBLAS_LIB AND NSAL_CBLAS_INCLUDE)
    message(WARNING "nsal: the OpenMP build of OpenBLAS was not found; using ${NSAL_OPENBLAS_LIB} "
                    "(threads may oversubscribe; install libopenblas-openmp-dev)")
  endif()
endif()
if(NOT NSAL_OPENBLAS_LIB OR NOT NSAL_CBLAS_INCLUDE)
  message(FATAL_ERROR "OpenBLAS not found: run scripts/install-deps.sh "
                      "(Debian package libopenblas-openmp-dev)")
endif()
add_library(nsal::blas INTERFACE IMPORTED)
target_link_libraries(nsal::blas INTERFACE ${NSAL_OPENBLAS_LIB})
target_include_directories(nsal::blas INTERFACE ${NSAL_CBLAS_INCLUDE})

add_library(nsal::hdf5 INTERFACE IMPORTED)
target_link_libraries(nsal::hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_include_directories(nsal::hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_compile_definitions(nsal::hdf5 INTERFACE ${HDF5_C_DEFINITIONS})

# ---- data/, al/, app ----
find_package(ZLIB QUIET)
find_package(PNG QUIET)
find_package(JPEG QUIET)
foreach(t ZLIB::ZLIB PNG::PNG JPEG::JPEG)
  if(NOT TARGET ${t})
    string(REGEX REPLACE "::.*" "" pkg ${t})
    list(APPEND NSAL_MISSING_DEPS ${pkg})
  endif()
endforeach()
nsal_optional_package(nlohmann_json nlohmann_json::nlohmann_json nlohmann/json.hpp)
nsal_optional_package(CLI11 CLI11::CLI11 CLI/CLI.hpp)
nsal_optional_package(tomlplusplus tomlplusplus::tomlplusplus toml++/toml.h TOML_HEADER_ONLY=1)
# spdlog header-only over the external fmt (Debian's tweakme.h sets SPDLOG_FMT_EXTERNAL).
nsal_optional_package(spdlog spdlog::spdlog spdlog/spdlog.h SPDLOG_FMT_EXTERNAL)
if(TARGET spdlog::spdlog AND NOT spdlog_FOUND)
  target_link_libraries(spdlog::spdlog INTERFACE fmt::fmt)
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(MATIO QUIET IMPORTED_TARGET matio)
  pkg_check_modules(CAIRO QUIET IMPORTED_TARGET cairo)
endif()
if(TARGET PkgConfig::MATIO)
  add_library(nsal::matio INTERFACE IMPORTED)
  target_link_libraries(nsal::matio INTERFACE PkgConfig::MATIO)
else()
  list(APPEND NSAL_MISSING_DEPS matio)
endif()
if(TARGET PkgConfig::CAIRO)
  add_library(nsal::cairo INTERFACE IMPORTED)
  target_link_libraries(nsal::cairo INTERFACE PkgConfig::CAIRO)
else()
  list(APPEND NSAL_MISSING_DEPS cairo)
endif()

if(NSAL_MISSING_DEPS)
  if(NSAL_ALLOW_PARTIAL)
    set(NSAL_FULL_BUILD OFF)
    message(WARNING "nsal: missing ${NSAL_MISSING_DEPS}: building only the core (nsal_kernels, "
                    "nsal_nn), the GPU tests (nsal_cuda_tests) and the kernel benchmarks")
  else()
    message(FATAL_ERROR "nsal: missing ${NSAL_MISSING_DEPS}: run scripts/install-deps.sh, or "
                        "configure with -DNSAL_ALLOW_PARTIAL=ON to build only the core")
  endif()
else()
  set(NSAL_FULL_BUILD ON)
endif()
