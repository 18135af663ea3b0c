"""The demo street's plan as constants: its communities and branches, the names its people are given, the
topics of its meetings, its volunteer posts, households and teams, and the type changes of the past two years.

Nothing here is random: the builder (builder.py) draws from these tables with the seed's random streams.
"""
from __future__ import annotations

from decimal import Decimal

DEFAULT_SEED = 2026

# (name, booklet prefix, housing estates)
COMMUNITIES = (
    ("前进社区", "QJ", ("前进新村", "前进路小区")),
    ("和平社区", "HP", ("和平里小区", "和平花园")),
    ("光明社区", "GM", ("光明花苑", "光明新村")),
)
# (community index, name, kind, members)
BRANCHES = (
    (0, "前进社区第一党支部", "ordinary", 34),
    (0, "前进社区第二党支部", "ordinary", 31),
    (0, "前进社区离退休党支部", "retirees", 40),
    (0, "前进社区再就业党支部", "reemployment", 24),
    (1, "和平社区第一党支部", "ordinary", 33),
    (1, "和平社区第二党支部", "ordinary", 30),
    (1, "和平社区流动党员党支部", "mobile", 18),
    (2, "光明社区第一党支部", "ordinary", 32),
    (2, "光明社区第二党支部", "ordinary", 30),
    (2, "光明社区第三党支部", "ordinary", 28),
)
TYPE_MIX = {
    "ordinary": (("A", 18), ("B", 52), ("C", 16), ("D", 14)),
    "retirees": (("B", 72), ("D", 28)),
    "reemployment": (("C", 88), ("A", 12)),
    "mobile": (("C", 100),),
}
# The member accounts: (branch index, type, what the member shows off).
MEMBER_ACCOUNTS = (
    (0, "A", "qualified"),
    (2, "B", "advanced"),
    (3, "C", "flexible"),
    (4, "B", "qualified"),
    (7, "C", "away"),
)

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
            "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛")
# (era, gender): (first characters, second characters) of two-character given names
GIVEN = {
    ("old", "M"): ("建国德志卫振永树宝长金福庆学文玉明春", "国华明刚东林山顺生祥发才成民忠良仁义全"),
    ("old", "F"): ("秀桂玉淑凤素丽美春冬翠金月爱", "英兰珍芬华梅芳琴荣霞云娥凤香"),
    ("mid", "M"): ("志建海晓立卫红永国新伟小振", "强华涛东军新国平波斌勇伟明峰刚"),
    ("mid", "F"): ("丽晓红雪玉秀春海艳桂美亚", "萍红梅燕霞丽芳娟琴玲敏华"),
    ("young", "M"): ("浩子宇家文志俊嘉博明天晨思", "然豪航轩博远杰宇涛鹏辉阳"),
    ("young", "F"): ("雨思梦晓佳欣诗雅婉子美静", "欣琪瑶雯怡涵萱婷悦彤琳"),
}
SINGLE_GIVEN = {"M": "伟强磊军勇斌涛杰明超刚", "F": "静敏丽娟艳芳燕婷丹英"}

ORG_LIFE_TOPICS = {
    1: "传达上级会议精神，部署全年工作", 2: "学习党章，重温入党誓词", 3: "学雷锋志愿服务主题党日",
    4: "清明祭英烈，传承红色基因", 5: "学习党纪处分条例", 6: "“七一”前夕重温入党誓词",
    7: "庆祝建党纪念日，表彰先进", 8: "防汛防台安全知识学习", 9: "文明城市创建动员",
    10: "重阳敬老，关爱困难党员", 11: "学习全会精神", 12: "年度积分公示与工作总结",
}
STUDY_TOPICS = ("党课：学习习近平新时代中国特色社会主义思想", "党课：党史学习教育",
                "集中学习：《中国共产党纪律处分条例》", "党课：学习全会精神")
# (month, day, topic, hours)
VOLUNTEER_EVENTS = (
    (3, 5, "学雷锋志愿服务日", Decimal("2.5")),
    (6, 14, "社区环境卫生整治", Decimal("2")),
    (10, 11, "重阳节敬老助老志愿服务", Decimal("3")),
    (12, 6, "冬季消防安全巡查", Decimal("2")),
)
CHARITY_DAY = (4, 18, "慈善一日捐")
# (years back from the current year, month, day, task) — emergency and key tasks (Z4)
KEY_TASKS = (
    (1, 1, 20, "春节期间安全巡防值守"),
    (1, 7, 10, "防汛值守"),
    (1, 9, 20, "文明城市创建集中整治"),
    (1, 11, 15, "流感高发期疫情防控值守"),
    (0, 1, 25, "春节期间安全巡防值守"),
    (0, 3, 20, "文明城市创建迎检"),
    (0, 5, 10, "防汛应急值守"),
)
POSTS = ("楼道长", "治安巡逻岗", "环境卫生监督岗", "政策宣传岗", "文明劝导岗", "垃圾分类督导岗",
         "邻里调解岗", "关爱独居老人岗", "小区议事岗", "党员先锋岗")
POSTS_FROM_HOME = ("政策宣传岗", "邻里调解岗", "关爱独居老人岗")  # what a member with limited mobility can hold
# How many posts a member holds (奉献岗, at most 4) and how many households they keep contact with (联系户),
# by tier: the seed's Qianlong has 271 posts and 189 households for 250 members (1.08 and 0.76 a member).
POST_COUNTS = {"advanced": ((1, 48), (2, 34), (3, 13), (4, 5)),
               "qualified": ((0, 27), (1, 52), (2, 16), (3, 4), (4, 1))}
HOUSEHOLD_COUNTS = {"advanced": ((1, 50), (2, 38), (3, 12)), "qualified": ((0, 42), (1, 50), (2, 8))}
# Posts and households per member on the roll, by community: 前进社区 is the seed's Qianlong.
SERVICE_RATIOS = ((1.084, 0.756), (0.95, 0.68), (1.0, 0.72))
HOUSEHOLD_KINDS = ("独居老人", "空巢老人", "高龄老人", "困难家庭", "残疾人家庭", "低保户", "退役军人家庭")
# Volunteer teams (志愿服务队) per community: (in force at the end of last year, founded this year); 前进社区
# is the seed's Qianlong (11 -> 13). The last name of the list is a team that was dissolved last year.
TEAMS = ("党员先锋志愿服务队", "红色楼道长志愿服务队", "银发生辉志愿服务队", "平安巡逻志愿服务队", "环境卫生志愿服务队",
         "文明劝导志愿服务队", "垃圾分类督导志愿服务队", "邻里调解志愿服务队", "助老助残志愿服务队", "政策宣讲志愿服务队",
         "文艺宣传志愿服务队", "便民维修志愿服务队", "防汛应急志愿服务队", "关爱青少年志愿服务队", "疫情防控志愿服务队")
TEAM_PLAN = ((11, 2), (7, 1), (8, 1))
DISSOLVED_TEAM = "疫情防控志愿服务队"
CONTACT_NOTES = ("走访联系户，了解诉求并帮助解决", "电话联系联系户，转达社区通知", "走访联系户，宣传防诈骗知识",
                 "帮助联系户办理高龄补贴")
SUGGESTION_NOTES = ("关于小区停车管理的建议被社区采纳", "调解邻里噪音纠纷", "调解楼上漏水纠纷",
                    "提出加装电梯协调方案被采纳")
PAIRING_NOTES = ("结对帮扶困难家庭", "结对帮扶独居老人")
AWAY_CITIES = ("杭州", "宁波", "苏州", "深圳", "上海", "广州")

# (from, to, reasons, own wishes) of type changes; counts in TYPE_CHANGE_PLAN
TYPE_CHANGES = {
    ("A", "B"): (("达到退休年龄，办理退休手续",), ("本人申请按离退休党员管理",)),
    ("B", "D"): (("突发脑梗，行动不便", "年老体弱，长期卧床", "因病行动不便，出行需人陪同"),
                 ("本人及家属申请转为第四类管理，希望能送学上门",)),
    ("A", "C"): (("合同到期离开社区工作岗位，现待业", "离开社区工作岗位，外出务工"),
                 ("本人同意转为第三类，外出期间通过线上方式学习",)),
    ("C", "A"): (("被聘为社区网格员", "到社区党群服务中心就业"), ("本人愿意参与社区工作，接受第一类标准",)),
    ("C", "B"): (("达到退休年龄，办理退休手续",), ("本人申请按离退休党员管理",)),
    ("D", "B"): (("身体康复，能正常参加活动",), ("本人要求恢复参加集中组织生活",)),
}
TYPE_CHANGE_PLAN = (("A", "B", 4), ("B", "D", 5), ("A", "C", 3), ("C", "A", 4), ("C", "B", 2), ("D", "B", 2))

CORRECTION_NOTE = "录入错误，更正"
REENTRY_NOTE = "更正后重新录入"
