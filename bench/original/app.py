"""The original Flask system's POST /passport/sms_code, as a contestant of `pnpm bench`.

The view is that of the Flask news site ("新经资讯", `info/modules/passport/views.py`,
`send_sms_code`) whose legacy front end this project serves. It follows the copy kept at
github.com/H123soft/information (commit 28739080588bd6ff9d16f6761a4379a4cb788ca1): the JSON
body, all() of the three fields, the mobile regex, GET then DELETE of the captcha, a
case-insensitive compare, the user lookup through Flask-SQLAlchemy, a 6-digit code from `random`,
the Ronglian CCP send, then SET of `SMS_<mobile>` for 300 s. Where that copy strays from the
original's keys and codes (it reads `ImageCodeId_` but deletes `ImageCode_`, and answers a
malformed mobile with PARAMERR), this follows docs/contract.md sections 1, 2, 5 and 6: the key
`ImageCode_<id>`, `^1[3578]\\d{9}$` with DATAERR, and the errmsg texts of section 2.

Differences from the deployed original, each said where it is: the SMS send is a no-op (the
original called the CCP SDK synchronously, an HTTPS round trip to Ronglian inside every send);
Postgres through psycopg2 instead of MySQL, on this project's `users` table; keys carry the
bench's REDIS_KEY_PREFIX. The original's app-wide CSRFProtect and Flask-Session are left out:
they are not part of the send view, and each would only make it slower.

Run by bench/src/original.ts as `gunicorn -w 4 app:app` with DATABASE_URL, REDIS_URL and
REDIS_KEY_PREFIX.
"""

import os
import random
import re

from flask import Blueprint, Flask, current_app, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from redis import StrictRedis


class RET:
    """The original's errno values: strings, as its jsonify answered them."""

    OK = "0"
    DBERR = "4001"
    NODATA = "4002"
    DATAEXIST = "4003"
    DATAERR = "4004"
    PARAMERR = "4103"
    THIRDERR = "4301"


SMS_CODE_REDIS_EXPIRES = 300
KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "")

db = SQLAlchemy()
# No decode_responses, as in the original: values come back as bytes and the view decodes them.
redis_store = StrictRedis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))


class User(db.Model):
    """The original's User model, mapped onto this project's `users` table (prisma/schema.prisma)."""

    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    mobile = db.Column(db.String(11), unique=True, nullable=False)
    nick_name = db.Column(db.String(32), nullable=False)
    password_hash = db.Column(db.String(255))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False)
    last_login_at = db.Column(db.DateTime(timezone=True))


class CCP:
    """Stands in for the Ronglian SDK's CCP: answers 0 (sent) at once, where the original's
    send_template_sms made a synchronous HTTPS request to Ronglian."""

    def send_template_sms(self, to, datas, temp_id):
        return 0


passport_blu = Blueprint("passport", __name__, url_prefix="/passport")


@passport_blu.route("/sms_code", methods=["POST"])
def send_sms_code():
    params = request.json
    mobile = params.get("mobile")
    image_code = params.get("image_code")
    image_code_id = params.get("image_code_id")

    if not all([mobile, image_code, image_code_id]):
        return jsonify(errno=RET.PARAMERR, errmsg="参数不全")

    # The original accepted 13x, 15x, 17x and 18x only (docs/contract.md section 6).
    if not re.match(r"^1[3578]\d{9}$", mobile):
        return jsonify(errno=RET.DATAERR, errmsg="手机号不正确")

    # Two round trips, GET then DELETE: the original took the captcha in two steps, not atomically.
    try:
        real_image_code = redis_store.get(KEY_PREFIX + "ImageCode_" + image_code_id)
        if real_image_code:
            real_image_code = real_image_code.decode()
            redis_store.delete(KEY_PREFIX + "ImageCode_" + image_code_id)
    except Exception as e:
        current_app.logger.error(e)
        return jsonify(errno=RET.DBERR, errmsg="获取图片验证码失败")

    if not real_image_code:
        return jsonify(errno=RET.NODATA, errmsg="验证码已过期")

    if image_code.lower() != real_image_code.lower():
        return jsonify(errno=RET.DATAERR, errmsg="验证码输入错误")

    try:
        user = User.query.filter_by(mobile=mobile).first()
    except Exception as e:
        current_app.logger.error(e)
        return jsonify(errno=RET.DBERR, errmsg="数据库查询错误")
    if user:
        return jsonify(errno=RET.DATAEXIST, errmsg="该手机已被注册")

    sms_code = "%06d" % random.randint(0, 999999)
    current_app.logger.debug("短信验证码的内容：%s" % sms_code)
    result = CCP().send_template_sms(mobile, [sms_code, SMS_CODE_REDIS_EXPIRES / 60], "1")
    if result != 0:
        return jsonify(errno=RET.THIRDERR, errmsg="发送短信失败")

    try:
        redis_store.set(KEY_PREFIX + "SMS_" + mobile, sms_code, SMS_CODE_REDIS_EXPIRES)
    except Exception as e:
        current_app.logger.error(e)
        return jsonify(errno=RET.DBERR, errmsg="保存短信验证码失败")

    return jsonify(errno=RET.OK, errmsg="发送成功")


def create_app():
    app = Flask(__name__)
    # SQLAlchemy 2.1 takes a bare postgresql:// to psycopg 3; the original's era drove psycopg2.
    app.config["SQLALCHEMY_DATABASE_URI"] = re.sub(
        r"^postgres(ql)?://", "postgresql+psycopg2://", os.environ["DATABASE_URL"]
    )
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    db.init_app(app)
    app.register_blueprint(passport_blu)
    return app


app = create_app()
