"""The smallest complete panel with PanelPay: a user table (a balance, an admin flag), a login keeping the user's id
in the session, a way to add users; settings from FLASK_-prefixed environment variables. In an empty folder:

    export FLASK_APP=/path/to/examples/minimal_host.py FLASK_SECRET_KEY=<a long random string>
    flask panelpay db upgrade && flask add-user admin --admin && flask run   # then log in at /login
"""
import os

import click
from flask import Flask, redirect, render_template_string, request, session
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

from panelpay import BalanceColumn, PanelPay

app = Flask(__name__, instance_path=os.path.abspath("instance"))  # the database and PanelPay's files: ./instance
app.config.update(SQLALCHEMY_DATABASE_URI="sqlite:///minimal-host.sqlite", SESSION_COOKIE_SAMESITE="Lax",
                  PANELPAY_LOGIN_URL="/login")  # where PanelPay sends a visitor who is not logged in
app.config.from_prefixed_env()
db = SQLAlchemy(app)
CSRFProtect(app)  # the login form carries a token; PanelPay exempts its gateway and JSON routes


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(64), unique=True, nullable=False)
    password_hash = db.Column(db.String(256), nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    balance = db.Column(db.Numeric(12, 2), nullable=False, default=0)  # what a top-up credits


PanelPay(app, db=db, current_user_id=lambda: session.get("user_id"),
         is_admin=lambda: session.get("is_admin", False), balance=BalanceColumn(User.balance))
LOGIN = """<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input name="name" placeholder="Name"> <input name="password" type="password"> <button>Log in</button></form>"""


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        user = db.session.execute(db.select(User).filter_by(name=request.form.get("name"))).scalar()
        if user and check_password_hash(user.password_hash, request.form.get("password", "")):
            session.clear()
            session.update(user_id=user.id, is_admin=user.is_admin)  # the admin flag comes from the users table
            back = request.args.get("next", "")  # the PanelPay page that sent the visitor here; a local path only
            return redirect(back if back[:1] == "/" and back[1:2] not in ("/", "\\") else "/payment/checkout")
    return render_template_string(LOGIN), 401 if request.method == "POST" else 200


@app.cli.command("add-user")
@click.argument("name")
@click.password_option()
@click.option("--admin", is_flag=True, help="May open PanelPay's settings.")
def add_user(name, password, admin):
    """Add a user who can log in. (The first time, this creates the host's table.)"""
    db.create_all()
    db.session.add(User(name=name, password_hash=generate_password_hash(password), is_admin=admin))
    db.session.commit()
