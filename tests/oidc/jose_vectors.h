/* Published examples of RFC 7515 (JWS) Appendix A, used by test_jose.c and as fuzz seeds. */
#ifndef ZTNA_TESTS_JOSE_VECTORS_H
#define ZTNA_TESTS_JOSE_VECTORS_H

/* A.2: RS256 ("iss":"joe", "exp":1300819380, "http://example.com/is_root":true). */
#define RFC7515_A2_N                                                                           \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0" \
    "Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXnd" \
    "S5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5Ih" \
    "lJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define RFC7515_PAYLOAD                                                                        \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0" \
    "cnVlfQ"
#define RFC7515_A2_TOKEN                                                                       \
    "eyJhbGciOiJSUzI1NiJ9." RFC7515_PAYLOAD                                                    \
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W" \
    "2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkS" \
    "jtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnv" \
    "Wh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"

/* A.3: ES256 over the same payload. */
#define RFC7515_A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define RFC7515_A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define RFC7515_A3_TOKEN                                                                       \
    "eyJhbGciOiJFUzI1NiJ9." RFC7515_PAYLOAD                                                    \
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

/* A.1 (HS256) and A.5 (alg "none"): must be refused by an ID token verifier. */
#define RFC7515_A1_TOKEN                                                                       \
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC7515_PAYLOAD                                \
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC7515_A5_TOKEN "eyJhbGciOiJub25lIn0." RFC7515_PAYLOAD "."

/* Both public keys as a JWK Set (kids from RFC 7515 A.6). */
#define RFC7515_JWKS                                                                           \
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"2010-12-29\",\"use\":\"sig\",\"n\":\"" RFC7515_A2_N   \
    "\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"e9bc097a-ce51-4036-9562-d2ade882db0d\","     \
    "\"crv\":\"P-256\",\"x\":\"" RFC7515_A3_X "\",\"y\":\"" RFC7515_A3_Y "\"}]}"

#endif
