# The CUDA backend is compiled whenever nvcc is found (and NSAL_CUDA is ON). It needs no GPU
# to build; at run time nsal asks for a device and falls back to the CPU when none answers.
set(NSAL_WITH_CUDA OFF)
add_library(nsal::cuda_libs INTERFACE IMPORTED)
if(NSAL_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    # CUDAToolkit_LIBRARY_DIR can name another folder that holds a libcudart (a stray link in
    # /usr/local/lib, say), so the toolkit's own lib folders are searched too; a runtime-only
    # cuDNN has libcudnn.so.9 and no libcudnn.so.
    find_library(NSAL_CUDNN_LIB NAMES cudnn libcudnn.so.9
                 HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib64
                       ${CUDAToolkit_LIBRARY_ROOT}/lib ${CUDAToolkit_TARGET_DIR}/lib
                       /usr/local/cuda/lib64)
    find_path(NSAL_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
    if(NOT NSAL_CUDNN_LIB OR NOT NSAL_CUDNN_INCLUDE)
      message(FATAL_ERROR "nvcc was found but cuDNN was not; install cuDNN 9 or pass -DNSAL_CUDA=OFF")
    endif()
    set(NSAL_WITH_CUDA ON)
    target_link_libraries(nsal::cuda_libs INTERFACE CUDA::cudart CUDA::cublas CUDA::curand
                          ${NSAL_CUDNN_LIB})
    target_include_directories(nsal::cuda_libs INTERFACE ${NSAL_CUDNN_INCLUDE})
    target_compile_definitions(nsal::cuda_libs INTERFACE NSAL_WITH_CUDA=1)
    message(STATUS "nsal: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
                   "architectures ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(NSAL_REQUIRE_CUDA)
    message(FATAL_ERROR "NSAL_REQUIRE_CUDA is ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "nsal: CUDA backend OFF (nvcc not found)")
  endif()
else()
  message(STATUS "nsal: CUDA backend OFF (NSAL_CUDA=OFF)")
endif()
