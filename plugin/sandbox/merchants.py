"""The sandbox's one merchant on each gateway, and the values that go with it."""

EPAY_PID = "1001"
#: EPay's ``pre_type`` names; an order may leave ``type`` empty and let the buyer pick at the cashier.
EPAY_TYPES = ("alipay", "wxpay", "qqpay", "bank", "jdpay", "paypal")

ALIPAY_APP_ID = "2021000000000001"
ALIPAY_SELLER_ID = "2088000000000001"
ALIPAY_SELLER_EMAIL = "sandbox-seller@panelpay.test"
