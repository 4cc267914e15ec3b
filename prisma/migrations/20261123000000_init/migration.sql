-- CreateTable
CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "mobile" VARCHAR(11) NOT NULL,
    "nick_name" VARCHAR(32) NOT NULL,
    "password_hash" VARCHAR(255),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "last_login_at" TIMESTAMPTZ(3),

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_mobile_key" ON "users"("mobile");

-- The mobile column holds a normalised mainland mobile: 11 digits, 1[3-9] first (CONTRACT section 6).
ALTER TABLE "users" ADD CONSTRAINT "users_mobile_format" CHECK ("mobile" ~ '^1[3-9][0-9]{9}$');
