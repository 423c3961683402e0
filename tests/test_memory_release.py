from shoprank.memory import release_free_memory


def test_free_memory_is_released_where_the_c_library_can():
    import platform

    assert release_free_memory() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
