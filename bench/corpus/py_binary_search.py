def binary_search(values, target):
    lo, hi = 0, len(values) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if values[mid] == target:
            return mid
        if values[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


primes = [2, 3, 5, 7, 11, 13, 17, 19, 23]
index = binary_search(primes, 13)
assert primes[index] ==
