! A Fortran program calling DGEMM and SGEMM through libkernels_blas.so (.ci/blas.sh links it with
! -lkernels_blas and no other BLAS): integer-valued data, so the product is exact; a transposed
! case, beta == 0 over a NaN-filled C (never read), and an illegal argument reported by XERBLA.
program dgemm_caller
  implicit none
  integer, parameter :: m = 37, n = 29, k = 53
  double precision :: a(m, k), b(k, n), c(m, n), ref(m, n), at(k, m), nan
  real :: as(m, k), bs(k, n), cs(m, n)
  integer :: i, j, p, bad
  external :: dgemm, sgemm

  do p = 1, k
    do i = 1, m
      a(i, p) = dble(mod(i * 3 + p * 7, 11) - 5)
    end do
  end do
  do j = 1, n
    do p = 1, k
      b(p, j) = dble(mod(p * 5 + j * 2, 9) - 4)
    end do
  end do
  do j = 1, n
    do i = 1, m
      ref(i, j) = 0d0
      do p = 1, k
        ref(i, j) = ref(i, j) + a(i, p) * b(p, j)
      end do
      c(i, j) = dble(i - j)
    end do
  end do

  bad = 0
  ! C := 2 A B + 1 C
  call dgemm('N', 'N', m, n, k, 2d0, a, m, b, k, 1d0, c, m)
  do j = 1, n
    do i = 1, m
      if (c(i, j) /= 2d0 * ref(i, j) + dble(i - j)) bad = bad + 1
    end do
  end do
  ! beta == 0 over NaN: C := A B, and A given transposed
  nan = 0d0
  nan = nan / nan
  c = nan
  at = transpose(a)
  call dgemm('T', 'n', m, n, k, 1d0, at, k, b, k, 0d0, c, m)
  do j = 1, n
    do i = 1, m
      if (c(i, j) /= ref(i, j)) bad = bad + 1
    end do
  end do
  ! single precision (exact too: every partial sum is a small integer)
  as = real(a)
  bs = real(b)
  cs = 0.0
  call sgemm('N', 'N', m, n, k, 1.0, as, m, bs, k, 0.0, cs, m)
  do j = 1, n
    do i = 1, m
      if (dble(cs(i, j)) /= ref(i, j)) bad = bad + 1
    end do
  end do
  if (bad /= 0) then
    print '(a, i0, a)', 'dgemm_caller: ', bad, ' wrong elements'
    stop 1
  end if
  ! LDA < M: the library reports argument 8 through XERBLA and leaves C alone
  c = 1d0
  call dgemm('N', 'N', m, n, k, 1d0, a, m - 1, b, k, 0d0, c, m)
  if (any(c /= 1d0)) then
    print '(a)', 'dgemm_caller: an illegal call changed C'
    stop 1
  end if
  print '(a, 3(i0, a))', 'dgemm_caller: DGEMM and SGEMM exact on ', m, 'x', n, 'x', k, ' through the library'
end program dgemm_caller
