# -DNSAL_FUZZ=ON: every library is compiled for libFuzzer with AddressSanitizer and UBSan, and
# data/fuzz/ adds one fuzz target per parser. Needs clang (scripts/fuzz.sh configures it).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "NSAL_FUZZ needs clang (libFuzzer): configure with CXX=clang++ CC=clang, "
                      "or run scripts/fuzz.sh")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
add_compile_definitions(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
